#!/usr/bin/env node
// V8's code cache on disk: later starts skip compiling (and stripping) what they load. (The
// built-in taken as it is: as an ES module import it would get a facade built first.)
process.getBuiltinModule("node:module").enableCompileCache();
const args = process.argv.slice(2);

// An install with nothing to do answers before the rest of the command is loaded.
if (await installIsNoOp(args)) {
  // Straight to the descriptor: process.stdout would first load Node's streams (a pipe's, net).
  try {
    process.getBuiltinModule("node:fs").writeSync(1, "up to date\n");
  } catch {
    process.stdout.write("up to date\n");
  }
} else {
  const { main } = await import("../src/cli/main.ts");
  process.exitCode = await main(args);
}

async function installIsNoOp([command, ...rest]: string[]): Promise<boolean> {
  if (command !== "install" && command !== "i" && command !== "ci") return false;
  const { shapeKey, shapeOfArgs, upToDate } = await import("../src/install/up-to-date.ts");
  const shape = shapeOfArgs(command, rest);
  return shape !== undefined && upToDate(process.cwd(), shapeKey(shape));
}
