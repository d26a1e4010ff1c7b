import { Entry, HardState, RaftMessage, Snapshot } from "@revoada/fabric-core/raft";
import { FabricState } from "@revoada/fabric-core/vocabulary";
import { z } from "zod";

/**
 * JSON Schemas (draft 2020-12) generated from the zod schemas that are the source of truth:
 * the Raft RPCs as JSON (the header of `encodeRaftMessage`'s binary frame, or the all-JSON
 * form its decoder also reads), log entries, hard state and snapshots, and the fabric state.
 */

/**
 * Byte arrays in the two JSON forms `decodeRaftMessage` reads: the header of a binary frame
 * (`0x00`, big-endian u32 header length, JSON header, then the raw payloads) points into the
 * payload area with `{"$blob": [offset, length]}`; the all-JSON form carries base64 in
 * `{"$bytes": "..."}` (what tooling without a frame parser writes).
 */
const bytesJsonSchema = {
  description: "opaque bytes: {$blob: [offset, length]} in a binary frame's JSON header, or {$bytes: base64}",
  oneOf: [
    {
      type: "object",
      properties: {
        $blob: { type: "array", items: { type: "integer", minimum: 0 }, minItems: 2, maxItems: 2 },
      },
      required: ["$blob"],
      additionalProperties: false,
    },
    {
      type: "object",
      properties: { $bytes: { type: "string", contentEncoding: "base64" } },
      required: ["$bytes"],
      additionalProperties: false,
    },
  ],
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
    description:
      "Raft messages between peers: the JSON header of a binary frame (byte arrays as {$blob: [offset, length]} into the payloads after it) or the all-JSON form (byte arrays as {$bytes: base64}).",
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
