// Goal: `revoada --help` names every subcommand of every command group, so a user finds
// `workload ls` or `etcd status` without guessing. Method: the program's own command tree
// against the help text a user sees.
import assert from "node:assert/strict";
import { it } from "node:test";
import { buildProgram } from "../src/cli/main.js";
import { runCli } from "./cli-harness.js";

it("revoada --help names every subcommand of every group", async () => {
  const help = await runCli(["--help"]);
  assert.equal(help.code, 0);
  const text = help.stdout.replace(/\s+/g, " ");
  const groups = (await buildProgram()).commands.filter((command) => command.commands.length > 0);
  assert.ok(groups.length >= 6, "the CLI has command groups");
  for (const group of groups) {
    for (const sub of group.commands) {
      assert.ok(text.includes(sub.name()), `${group.name()} ${sub.name()} is named in --help`);
    }
  }
});
