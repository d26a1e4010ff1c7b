import { spawnSync } from "node:child_process";
import { accessSync, chmodSync, constants, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import type { FaceFile } from "@revoada/fabric-core/face";
import { parseUnitFile, sectionEntries } from "../unit-syntax.js";
import { isWordError, parseExecLine } from "../unit-values.js";

/**
 * Test support: runs `systemd-analyze verify` on rendered units the way formats.md §6
 * prescribes. The units go into `<root>/etc/systemd/system`, every program an `Exec*=`
 * line names is stubbed as an executable under the root, and verify runs with
 * `--root=<root> --recursive-errors=no` (a bare root has no sysinit.target). Under
 * `--root`, unknown keys and unparsable values fail; stderr is also searched for the
 * warnings verify prints with rc 0.
 */

export const systemdAnalyzePath = "/usr/bin/systemd-analyze";
export const verifyProblemPattern =
  /Unknown key|Unknown section|Failed to parse|ignoring|not executable|Invalid|bad-setting/;

export interface VerifyOutcome {
  readonly status: number | null;
  readonly stderr: string;
  /** stderr lines that mean a unit is wrong even when the status is 0. */
  readonly problems: readonly string[];
}

export function hasSystemdAnalyze(): boolean {
  try {
    accessSync(systemdAnalyzePath, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Whether a test that needs systemd-analyze can run. Missing in CI is a failure (the CI
 * setup installs it); missing on a developer machine is a skip, with the reason.
 */
export function systemdAnalyzeAvailability(): { run: true } | { run: false; reason: string } {
  if (hasSystemdAnalyze()) return { run: true };
  if (process.env.CI === "true") {
    throw new Error(
      `${systemdAnalyzePath} is missing in CI: scripts/setup-system.sh installs the systemd package`,
    );
  }
  return { run: false, reason: `${systemdAnalyzePath} is not installed` };
}

function programsOf(file: FaceFile): string[] {
  const unit = parseUnitFile(file.content, file.path);
  if (!unit.ok) return [];
  const programs: string[] = [];
  for (const entry of sectionEntries(unit.value, "Service")) {
    if (!entry.key.startsWith("Exec") || entry.value === "") continue;
    const argv = parseExecLine(entry.value);
    if (isWordError(argv) || argv[0] === undefined) continue;
    programs.push(argv[0].replace(/^[-@:+!]+/, ""));
  }
  return programs;
}

/** Verifies units that live in one directory (one node's units). Paths keep only their base name. */
export function verifyUnits(files: readonly FaceFile[]): VerifyOutcome {
  const root = mkdtempSync(join(tmpdir(), "revoada-verify-"));
  try {
    const unitDirectory = join(root, "etc/systemd/system");
    mkdirSync(unitDirectory, { recursive: true });
    const names: string[] = [];
    for (const file of files) {
      const name = file.path.slice(file.path.lastIndexOf("/") + 1);
      names.push(name);
      writeFileSync(join(unitDirectory, name), file.content);
      for (const program of programsOf(file)) {
        const stub = join(root, program);
        mkdirSync(dirname(stub), { recursive: true });
        writeFileSync(stub, "#!/bin/sh\n");
        chmodSync(stub, 0o755);
      }
    }
    const run = spawnSync(
      systemdAnalyzePath,
      ["verify", "--man=no", "--recursive-errors=no", `--root=${root}`, ...names],
      {
        cwd: unitDirectory,
        encoding: "utf8",
        env: { ...process.env, SYSTEMD_LOG_COLOR: "0", SYSTEMD_PAGER: "" },
      },
    );
    const stderr = `${run.stderr ?? ""}${run.error === undefined ? "" : String(run.error)}`;
    const problems = stderr.split("\n").filter((line) => verifyProblemPattern.test(line));
    return { status: run.status, stderr, problems };
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

/**
 * Verifies user units the way `systemctl --user` loads them: `systemd-analyze --user verify`,
 * which needs no running user manager when `XDG_RUNTIME_DIR` names a private directory (it
 * works offline). systemd 252 refuses `--root` in `--user` mode, so programs are checked on the
 * real filesystem: each `Exec*=` program is rewritten, in the staged copy only, to a stub of
 * the same name under the temporary directory. Units go to `<home>/.config/systemd/user`.
 */
export function verifyUserUnits(files: readonly FaceFile[]): VerifyOutcome {
  const root = mkdtempSync(join(tmpdir(), "revoada-verify-user-"));
  try {
    const home = join(root, "home");
    const unitDirectory = join(home, ".config/systemd/user");
    const runtime = join(root, "run");
    mkdirSync(unitDirectory, { recursive: true });
    mkdirSync(runtime, { mode: 0o700 });
    const names: string[] = [];
    for (const file of files) {
      const name = file.path.slice(file.path.lastIndexOf("/") + 1);
      names.push(name);
      let content = file.content;
      for (const program of programsOf(file)) {
        const stub = join(root, "stubs", program);
        mkdirSync(dirname(stub), { recursive: true });
        writeFileSync(stub, "#!/bin/sh\n");
        chmodSync(stub, 0o755);
        content = content.replaceAll(`=${program} `, `=${stub} `);
      }
      writeFileSync(join(unitDirectory, name), content);
    }
    const run = spawnSync(
      systemdAnalyzePath,
      ["--user", "verify", "--man=no", "--recursive-errors=no", ...names],
      {
        cwd: unitDirectory,
        encoding: "utf8",
        env: {
          ...process.env,
          HOME: home,
          XDG_RUNTIME_DIR: runtime,
          XDG_CONFIG_HOME: join(home, ".config"),
          SYSTEMD_LOG_COLOR: "0",
          SYSTEMD_PAGER: "",
        },
      },
    );
    const stderr = `${run.stderr ?? ""}${run.error === undefined ? "" : String(run.error)}`;
    const problems = stderr.split("\n").filter((line) => verifyProblemPattern.test(line));
    return { status: run.status, stderr, problems };
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

/** Groups a cluster render's unit files by directory, so each node's units are verified together. */
export function unitsByDirectory(
  files: readonly FaceFile[],
  suffixes: readonly string[],
): Map<string, FaceFile[]> {
  const groups = new Map<string, FaceFile[]>();
  for (const file of files) {
    if (!suffixes.some((suffix) => file.path.endsWith(suffix))) continue;
    const directory = file.path.includes("/") ? file.path.slice(0, file.path.lastIndexOf("/")) : "";
    const list = groups.get(directory) ?? [];
    list.push(file);
    groups.set(directory, list);
  }
  return groups;
}
