import { canonicalJson, schemaCatalog, toJsonSchema } from "@revoada/fabric-core/vocabulary";
import type { Command } from "commander";
import { CliError, exitCodes } from "../exit-codes.js";

export function registerSchema(program: Command): void {
  program
    .command("schema")
    .description("print the JSON Schema (draft 2020-12) of a type, or of every type")
    .argument("[type]", `one of: ${Object.keys(schemaCatalog).join(", ")}`)
    .action((type: string | undefined) => {
      if (type === undefined) {
        const all = Object.fromEntries(
          Object.entries(schemaCatalog).map(([name, schema]) => [name, toJsonSchema(schema)]),
        );
        process.stdout.write(canonicalJson(all));
        return;
      }
      const schema = schemaCatalog[type];
      if (schema === undefined) {
        const known = Object.keys(schemaCatalog).join(", ");
        throw new CliError(`unknown type "${type}"; known: ${known}`, exitCodes.notFound);
      }
      process.stdout.write(canonicalJson(toJsonSchema(schema)));
    });
}
