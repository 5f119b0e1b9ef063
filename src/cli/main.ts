/** The `cairn` command: parses arguments and maps errors to exit codes. */
import { Command, CommanderError } from "commander";
import { InstallError } from "../install/install-error.ts";
import { LogError } from "../log/index.ts";
import { registerAdminCommands } from "./admin.ts";
import { registerIndexCommands } from "./index-commands.ts";
import { registerInstallCommands } from "./install.ts";
import { registerLogCommands } from "./log.ts";
import { registerMirrorCommands } from "./mirror.ts";
import { rememberUserUmask } from "./options.ts";
import { registerPeerCommands } from "./peer.ts";
import { registerProxyCommands } from "./proxy.ts";
import { registerServeCommands } from "./serve.ts";
import { registerStoreCommands } from "./store.ts";

export function buildProgram(): Command {
  const program = new Command("cairn")
    .description("Cairn: a package registry that anyone can mirror and nobody has to trust")
    .version("0.1.0")
    .showHelpAfterError()
    .exitOverride();
  registerServeCommands(program);
  registerAdminCommands(program);
  registerLogCommands(program);
  registerMirrorCommands(program);
  registerProxyCommands(program);
  registerIndexCommands(program);
  registerInstallCommands(program);
  registerStoreCommands(program);
  registerPeerCommands(program);
  return program;
}

/**
 * Files and directories cairn creates are its owner's alone (0600, 0700): the
 * key, the user database, a client's state. The static tree is public over
 * HTTP anyway; an operator who serves it with another web server grants that
 * server access.
 */
const PRIVATE_UMASK = 0o077;

export async function main(argv: string[]): Promise<number> {
  rememberUserUmask(process.umask(PRIVATE_UMASK));
  const program = buildProgram();
  try {
    await program.parseAsync(argv, { from: "user" });
    // A command that failed without throwing (a check that found problems) set the exit code.
    return Number(process.exitCode ?? 0);
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode;
    if (err instanceof LogError || err instanceof InstallError) {
      process.stderr.write(`cairn: ${err.message} [${err.code}]\n`);
      return 1;
    }
    process.stderr.write(`cairn: ${(err as Error).message ?? String(err)}\n`);
    return 1;
  }
}
