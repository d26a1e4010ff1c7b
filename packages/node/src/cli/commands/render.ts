import { resolve } from "node:path";
import {
  type DroppedField,
  type Face,
  type FaceParameters,
  type LostField,
  lostFields,
  type UnknownField,
  type WriteResult,
  withoutLost,
} from "@revoada/fabric-core/face";
import {
  type FabricState,
  FabricState as FabricStateSchema,
  formatIssue,
  parseSourceText,
  stringifyYaml,
} from "@revoada/fabric-core/vocabulary";
import type { Command } from "commander";
import { configureLoadedFace, loadFace } from "../../faces.js";
import {
  allNodeViews,
  findNode,
  RenderConflictError,
  type RenderReport,
  readDirectoryFiles,
  renderToDirectory,
} from "../../render/index.js";
import { CliError, exitCodes } from "../exit-codes.js";
import { readInputFile } from "../io.js";
import { type OutputFormat, outputOption, render } from "../output.js";

/**
 * `revoada render`: the fabric state through a face into a directory (one node's view with
 * `--node`, every node in its own folder with `--all`, the whole cluster's files otherwise);
 * `revoada read`: a cluster render back to a fabric state, saying what the face cannot
 * represent: those fields are absent from the output (not zeros), listed on stderr (`lost:`),
 * as comments at the top of `-o yaml`, and under `lost` in `-o json`
 * (`{ state, lost, ignored }`).
 */

/** `--param NAME=VALUE` (repeatable): `true`/`false` are booleans, anything else a string. */
function collectParameter(
  text: string,
  previous: Record<string, string | boolean> = {},
): Record<string, string | boolean> {
  const at = text.indexOf("=");
  if (at <= 0)
    throw new CliError(`--param ${text}: expected NAME=VALUE (e.g. version=1.30)`, exitCodes.usage);
  const value = text.slice(at + 1);
  return { ...previous, [text.slice(0, at)]: value === "true" ? true : value === "false" ? false : value };
}

async function faceNamed(name: string, parameters: FaceParameters = {}): Promise<Face> {
  const found = await loadFace(name);
  const loaded = found.ok ? configureLoadedFace(found, parameters) : found;
  if (loaded.ok) return loaded.face;
  const message = loaded.issues
    .map((issue) => (issue.file === undefined ? issue.message : formatIssue(issue)))
    .join("\n");
  const exitCode = { unknown: exitCodes.notFound, invalid: exitCodes.failed, config: exitCodes.invalidInput }[
    loaded.kind
  ];
  throw new CliError(message, exitCode);
}

async function stateFrom(file: string): Promise<FabricState> {
  const parsed = parseSourceText(FabricStateSchema, await readInputFile(file, "state"), file);
  if (!parsed.ok) throw new CliError(parsed.issues.map(formatIssue).join("\n"), exitCodes.invalidInput);
  return parsed.value;
}

function warnDropped(dropped: readonly DroppedField[]): void {
  for (const entry of dropped) process.stderr.write(`dropped: ${entry.path.join(".")}: ${entry.reason}\n`);
}

function warnUnknown(directory: string, unknown: readonly UnknownField[]): void {
  for (const entry of unknown) {
    const where = entry.line === undefined ? "" : `:${entry.line}:${entry.column ?? 1}`;
    process.stderr.write(`ignored: ${directory}/${entry.file}${where}: ${entry.reason}\n`);
  }
}

/** One line per declared loss that applies to this state: `nodes.*.capacity (5 fields): why`. */
function lostSummary(state: FabricState, lost: readonly LostField[]): string[] {
  const lines: string[] = [];
  for (const entry of lost) {
    const count = lostFields(state, [entry]).length;
    if (count === 0) continue;
    const kind = entry.approximate === true ? "rounded" : "absent";
    const fields = count === 1 ? "1 field" : `${count} fields`;
    lines.push(`${entry.path.join(".")} (${fields}, ${kind}): ${entry.reason}`);
  }
  return lines;
}

interface RenderOptions {
  face: string;
  param?: Record<string, string | boolean>;
  state: string;
  node?: string;
  all?: boolean;
  out: string;
  output: OutputFormat;
}

function written(face: Face, state: FabricState, options: RenderOptions): WriteResult {
  if (options.all === true) return allNodeViews(face, state);
  if (options.node === undefined) return face.writer.write(state, { kind: "cluster" });
  const node = findNode(state, options.node);
  if (node === "ambiguous")
    throw new CliError(`node '${options.node}' matches more than one node`, exitCodes.usage);
  if (node === undefined)
    throw new CliError(`no node '${options.node}' in ${options.state}`, exitCodes.notFound);
  return face.writer.write(state, { kind: "node", node: node.id });
}

async function renderAction(options: RenderOptions): Promise<void> {
  if (options.all === true && options.node !== undefined) {
    throw new CliError("--node and --all exclude each other", exitCodes.usage);
  }
  const face = await faceNamed(options.face, options.param);
  const state = await stateFrom(options.state);
  const result = written(face, state, options);
  let report: RenderReport;
  try {
    report = await renderToDirectory(resolve(options.out), face.id, result.files);
  } catch (error) {
    if (error instanceof RenderConflictError) throw new CliError(error.message, exitCodes.failed);
    throw error;
  }
  warnDropped(result.dropped);
  const summary = { ...report, face: face.id, dropped: result.dropped };
  process.stdout.write(
    render(options.output, summary, () => [
      {
        face: face.id,
        directory: report.directory,
        files: result.files.length,
        written: report.written.length,
        unchanged: report.unchanged.length,
        removed: report.removed.length,
        dropped: result.dropped.length,
      },
    ]),
  );
}

async function readAction(
  directory: string,
  options: { face: string; param?: Record<string, string | boolean>; output: OutputFormat },
): Promise<void> {
  const face = await faceNamed(options.face, options.param);
  const files = await readDirectoryFiles(resolve(directory)).catch((error: unknown) => {
    if (error instanceof Error && "code" in error && error.code === "ENOENT") {
      throw new CliError(`no such directory: ${directory}`, exitCodes.notFound);
    }
    throw error;
  });
  const result = await face.reader.read(files);
  if (!result.ok) {
    const lines = result.issues.map((issue) =>
      formatIssue(
        issue.file === undefined
          ? issue
          : { ...issue, file: `${directory.replace(/\/$/, "")}/${issue.file}` },
      ),
    );
    throw new CliError(lines.join("\n"), exitCodes.invalidInput);
  }
  warnUnknown(directory.replace(/\/$/, ""), result.value.unknown);
  const state = result.value.state;
  const lostLines = lostSummary(state, face.lost ?? []);
  for (const line of lostLines) process.stderr.write(`lost: ${line}\n`);
  const known = withoutLost(state, face.lost);
  if (options.output === "yaml") {
    const header = lostLines.map((line) => `# lost: ${line}\n`).join("");
    process.stdout.write(`${header}${stringifyYaml(known)}`);
    return;
  }
  const document = { state: known, lost: lostFields(state, face.lost), ignored: result.value.unknown };
  process.stdout.write(
    render(options.output, document, () =>
      Object.values(state.nodes).map((node) => ({
        node: node.name,
        id: node.id.slice(0, 8),
        roles: node.roles.join(",") || "-",
        replicas: Object.values(state.placements).reduce(
          (count, nodes) => count + nodes.filter((id) => id === node.id).length,
          0,
        ),
      })),
    ),
  );
}

export function registerRender(program: Command): void {
  program
    .command("render")
    .description("render a fabric state through a face into a directory (atomic, unchanged files untouched)")
    .requiredOption("--face <name>", "face name (revoada face list), package name or path")
    .requiredOption("--state <file>", "fabric state file (YAML or JSON)")
    .option("--node <node>", "render one node's view (node id, name or unique id prefix)")
    .option("--all", "render every node's view, one folder per node")
    .option(
      "--param <name=value>",
      "a face parameter, repeatable (kubernetes version=1.30; nomad version=1.4; systemd user_units=true, kubernetes_version=1.33)",
      collectParameter,
    )
    .requiredOption("--out <dir>", "output directory")
    .addOption(outputOption("table"))
    .action(renderAction);

  program
    .command("read")
    .description(
      "read a face's cluster render back into a fabric state; what the face cannot represent is absent and listed (lost:)",
    )
    .requiredOption("--face <name>", "face name (revoada face list), package name or path")
    .argument("<dir>", "directory written by `revoada render` (without --node/--all)")
    .option(
      "--param <name=value>",
      "the face parameter the render used, repeatable (kubernetes version=1.30; nomad version=1.4; systemd user_units=true, kubernetes_version=1.33)",
      collectParameter,
    )

    .addOption(outputOption("yaml"))
    .action(readAction);
}
