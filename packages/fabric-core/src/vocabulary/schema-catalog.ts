import { z } from "zod";
import { Command, Proposal } from "./command.js";
import { FabricState } from "./fabric-state.js";
import { FabricFace } from "./face-kind.js";
import { Formation } from "./formation.js";
import { NodeState } from "./node.js";
import { FabricStrategy } from "./strategy.js";
import { Workload } from "./workload.js";

/** The schemas `revoada schema [TYPE]` prints as JSON Schema; other layers add theirs. */
export const schemaCatalog: Readonly<Record<string, z.ZodType>> = {
  FabricStrategy,
  FabricFace,
  FabricState,
  NodeState,
  Workload,
  Command,
  Proposal,
  Formation,
};

export function toJsonSchema(schema: z.ZodType): unknown {
  return z.toJSONSchema(schema, { io: "input", unrepresentable: "any" });
}
