/**
 * The CLI loads only the module of the command it runs: its table of which
 * module registers which top-level commands must match what each module
 * registers, or a command would be missing from the program that runs it.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { Command } from "commander";
import { buildProgram, COMMAND_MODULES } from "../../src/cli/main.ts";

function topLevelNames(program: Command): string[] {
  return program.commands.flatMap((c) => [c.name(), ...c.aliases()]).sort();
}

test("each command module registers exactly the commands the table names for it", async () => {
  for (const m of COMMAND_MODULES) {
    const program = new Command("cairn");
    (await m.load())(program);
    assert.deepEqual(topLevelNames(program), [...m.names].sort());
  }
});

test("no top-level command is named by two modules", () => {
  const names = COMMAND_MODULES.flatMap((m) => m.names);
  assert.equal(new Set(names).size, names.length);
});

test("a command line naming a command loads only that command's module", async () => {
  assert.deepEqual(topLevelNames(await buildProgram(["i", "left-pad"])), [
    "ci",
    "i",
    "install",
    "remove",
    "rm",
    "un",
    "uninstall",
  ]);
  assert.deepEqual(topLevelNames(await buildProgram(["store", "verify"])), ["store"]);
});

test("help, --version and unknown commands get every command", async () => {
  const all = COMMAND_MODULES.flatMap((m) => m.names).sort();
  for (const argv of [[], ["--help"], ["--version"], ["instal"]])
    assert.deepEqual(topLevelNames(await buildProgram(argv)), all);
});
