import { Entry, HardState, RaftMessage, Snapshot } from "@revoada/fabric-core/raft";
import { FabricState } from "@revoada/fabric-core/vocabulary";
import { z } from "zod";

/**
 * JSON Schemas (draft 2020-12) generated from the zod schemas that are the source of truth:
 * the Raft RPCs exactly as `encodeRaftMessage` puts them on the wire (byte arrays as
 * `{"$bytes": "<base64>"}`), log entries and hard state, and the fabric state itself.
 */

const bytesJsonSchema = {
  type: "object",
  description: "opaque bytes, base64-encoded",
  properties: { $bytes: { type: "string", contentEncoding: "base64" } },
  required: ["$bytes"],
  additionalProperties: false,
};

function toJsonSchema(schema: z.ZodType): Record<string, unknown> {
  return z.toJSONSchema(schema, {
    io: "input",
    unrepresentable: "any",
    override: (context) => {
      if (context.zodSchema._zod.def.type !== "custom") return;
      for (const key of Object.keys(context.jsonSchema)) delete context.jsonSchema[key];
      Object.assign(context.jsonSchema, bytesJsonSchema);
    },
  }) as Record<string, unknown>;
}

let cachedRpc: Record<string, unknown> | undefined;
let cachedState: Record<string, unknown> | undefined;

/** `raft-rpc.schema.json`: every Raft message, plus the entry and hard-state shapes. */
export function raftRpcJsonSchema(): Record<string, unknown> {
  cachedRpc ??= {
    $schema: "https://json-schema.org/draft/2020-12/schema",
    title: "revoada Raft RPCs",
    description: "Wire messages between Raft peers (JSON, byte arrays as {$bytes: base64}).",
    oneOf: [{ $ref: "#/$defs/RaftMessage" }],
    $defs: {
      RaftMessage: stripSchemaKey(toJsonSchema(RaftMessage)),
      Entry: stripSchemaKey(toJsonSchema(Entry)),
      HardState: stripSchemaKey(toJsonSchema(HardState)),
      Snapshot: stripSchemaKey(toJsonSchema(Snapshot)),
    },
  };
  return cachedRpc;
}

/** `fabric-state.schema.json`: the shape of `state.json`. */
export function fabricStateJsonSchema(): Record<string, unknown> {
  cachedState ??= { ...toJsonSchema(FabricState), title: "revoada fabric state" };
  return cachedState;
}

function stripSchemaKey(schema: Record<string, unknown>): Record<string, unknown> {
  const { $schema: _ignored, ...rest } = schema;
  return rest;
}
