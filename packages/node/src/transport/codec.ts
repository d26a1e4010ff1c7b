import { failed, parseWith, type Result } from "@revoada/fabric-core/vocabulary";
import type { z } from "zod";

/**
 * How a transport turns messages into frame payloads and back. `decode` validates (zod)
 * and returns issues instead of throwing: a frame that fails is dropped and logged.
 */
export interface MessageCodec<M> {
  encode(message: M): Uint8Array;
  decode(bytes: Uint8Array): Result<M>;
}

const textDecoder = new TextDecoder("utf-8", { fatal: true });

/** JSON text validated by `schema` on the way in. */
export function jsonCodec<S extends z.ZodType>(schema: S): MessageCodec<z.output<S>> {
  return {
    encode: (message) => Buffer.from(JSON.stringify(message), "utf8"),
    decode: (bytes) => {
      let parsed: unknown;
      try {
        parsed = JSON.parse(textDecoder.decode(bytes));
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        return failed([{ code: "invalid_json", message, path: [] }]);
      }
      return parseWith(schema, parsed);
    },
  };
}
