import type { Command } from "commander";
import { type KnownFace, listKnownFaces } from "../../faces.js";
import { type OutputFormat, outputOption, render } from "../output.js";

/** `revoada face list`: every face name the registry knows, with what its package says about itself. */
export function registerFace(program: Command): void {
  const face = program.command("face").description("the faces (output formats) revoada renders");

  face
    .command("list")
    .description("list the known faces: name, protocol, package, description")
    .addOption(outputOption("table"))
    .action(async (options: { output: OutputFormat }) => {
      const faces = await listKnownFaces();
      process.stdout.write(
        render(options.output, faces, () => faces.map(faceRow), [
          "name",
          "protocol",
          "package",
          "description",
        ]),
      );
    });
}

function faceRow(face: KnownFace): Record<string, string | null> {
  return { name: face.name, protocol: face.protocol, package: face.package, description: face.description };
}
