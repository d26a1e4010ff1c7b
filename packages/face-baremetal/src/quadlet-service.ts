import type { FaceFile } from "@revoada/fabric-core/face";
import { failed, ok, type Result } from "@revoada/fabric-core/vocabulary";
import {
  formatExecLine,
  isWordError,
  lastValue,
  listValues,
  parseEnvironment,
  parseExecLine,
  parseUnitFile,
  podmanPath,
  sectionEntries,
  splitWords,
  stringifyUnitFile,
  type UnitEntries,
} from "@revoada/face-systemd";
import { parseEntrypoint } from "./baremetal-face.js";

/**
 * The `.service` Quadlet would generate from one of our `.container` files, for the keys this
 * face writes (Image, ContainerName, Network, Entrypoint, Exec, Environment, PublishPort,
 * Volume, Label, HealthCmd): `[Unit]`, `[Service]` and `[Install]` pass through, the
 * `[Container]` keys become one `podman run` line. Debian 12's podman 4.3 has no Quadlet, so
 * this is how the tests put the container units through `systemd-analyze verify`; it is an
 * approximation of the generator, not a replacement for it.
 */
export function quadletEquivalentService(file: FaceFile): Result<FaceFile> {
  const unit = parseUnitFile(file.content, file.path);
  if (!unit.ok) return unit;
  const container = sectionEntries(unit.value, "Container");
  const image = lastValue(container, "Image");
  if (image === undefined)
    return failed([{ code: "missing_key", message: "no Image=", path: [], file: file.path }]);
  const base = file.path.slice(file.path.lastIndexOf("/") + 1).replace(/\.container$/, "");
  const name = lastValue(container, "ContainerName")?.value ?? `systemd-${base}`;
  const argv = [
    podmanPath,
    "run",
    `--name=${name}`,
    "--replace",
    "--rm",
    "--cgroups=split",
    "--sdnotify=conmon",
    "-d",
  ];
  const network = lastValue(container, "Network");
  if (network !== undefined) argv.push(`--network=${network.value}`);
  for (const entry of listValues(container, "Environment")) {
    const pairs = parseEnvironment(entry.value);
    if (isWordError(pairs))
      return failed([
        { code: "syntax", message: pairs.message, path: [], file: file.path, line: entry.line },
      ]);
    for (const [key, value] of pairs) argv.push(`--env=${key}=${value}`);
  }
  for (const entry of listValues(container, "PublishPort")) argv.push(`--publish=${entry.value}`);
  for (const entry of listValues(container, "Volume"))
    argv.push(`--volume=${entry.value.replaceAll("%%", "%")}`);
  for (const entry of listValues(container, "Label")) {
    const words = splitWords(entry.value);
    if (!isWordError(words)) for (const word of words) argv.push(`--label=${word}`);
  }
  const health = lastValue(container, "HealthCmd");
  if (health !== undefined) argv.push(`--health-cmd=${health.value.replaceAll("%%", "%")}`);
  const entrypoint = lastValue(container, "Entrypoint");
  if (entrypoint !== undefined) {
    const command = parseEntrypoint(entrypoint.value);
    if (typeof command === "string")
      return failed([{ code: "syntax", message: command, path: [], file: file.path }]);
    argv.push(`--entrypoint=${command.length === 1 ? command[0]! : JSON.stringify(command)}`);
  }
  argv.push(image.value);
  const exec = lastValue(container, "Exec");
  if (exec !== undefined) {
    const words = parseExecLine(exec.value);
    if (isWordError(words))
      return failed([{ code: "syntax", message: words.message, path: [], file: file.path }]);
    argv.push(...words);
  }
  const passThrough = (section: string): UnitEntries =>
    sectionEntries(unit.value, section).map((entry): [string, string] => [entry.key, entry.value]);
  const service: UnitEntries = [
    ["Type", "notify"],
    ["NotifyAccess", "all"],
    ["KillMode", "mixed"],
    ["ExecStart", formatExecLine(argv)],
    ["ExecStop", formatExecLine([podmanPath, "rm", "-v", "-f", "-i", name])],
    ...passThrough("Service"),
  ];
  const content = stringifyUnitFile({
    sections: [
      { name: "Unit", entries: passThrough("Unit") },
      { name: "Service", entries: service },
      { name: "Install", entries: passThrough("Install") },
    ],
  });
  return ok({ path: file.path.replace(/\.container$/, ".service"), content });
}
