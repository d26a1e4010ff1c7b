import { exampleFaces, type FabricFace } from "@revoada/fabric-core/vocabulary";
import type { Command } from "commander";
import { type OutputFormat, outputOption, render } from "../output.js";

/** `revoada face list`: the face kinds this build knows, one example face of each. */
export function registerFace(program: Command): void {
  const face = program.command("face").description("the faces (output formats) revoada renders");

  face
    .command("list")
    .description("list the face kinds, one example face of each")
    .addOption(outputOption("table"))
    .action((options: { output: OutputFormat }) => {
      process.stdout.write(
        render(options.output, exampleFaces, () => exampleFaces.map(faceRow), [
          "name",
          "protocol",
          "details",
        ]),
      );
    });
}

function faceRow(face: FabricFace): Record<string, string> {
  const { protocol, ...details } = face.kind;
  const text = Object.entries(details)
    .map(([key, value]) => `${key}=${String(value)}`)
    .join(" ");
  return { name: face.name, protocol, details: text };
}
