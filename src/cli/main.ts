/** The `cairn` command: parses arguments and maps errors to exit codes. */
import { Command, CommanderError } from "commander";
import { CargoError } from "../cargo/rules/errors.ts";
import { InstallError } from "../install/install-error.ts";
import { LogError } from "../log/errors.ts";
import { rememberUserUmask } from "./options.ts";

type Register = (program: Command) => void;

/**
 * Each module of commands, by the top-level commands (and aliases) it
 * registers. A command line that names one of them loads only its module:
 * `cairn install` need not load the origin server (fastify and the rest).
 * test/cli/commands.test.ts checks these names against what each module
 * registers.
 */
export const COMMAND_MODULES: readonly {
  names: readonly string[];
  load: () => Promise<Register>;
}[] = [
  {
    names: ["serve", "user", "key"],
    load: async () => (await import("./serve.ts")).registerServeCommands,
  },
  {
    names: ["import", "rebuild", "sign"],
    load: async () => (await import("./admin.ts")).registerAdminCommands,
  },
  {
    names: ["takedown", "restore"],
    load: async () => (await import("./takedown.ts")).registerTakedownCommands,
  },
  { names: ["gc"], load: async () => (await import("./gc.ts")).registerGcCommands },
  { names: ["log"], load: async () => (await import("./log.ts")).registerLogCommands },
  {
    names: ["mirror", "mirrors"],
    load: async () => (await import("./mirror.ts")).registerMirrorCommands,
  },
  {
    names: ["proxy", "verify"],
    load: async () => (await import("./proxy.ts")).registerProxyCommands,
  },
  {
    names: ["diff", "sync", "ls", "show", "search", "resolve"],
    load: async () => (await import("./index-commands.ts")).registerIndexCommands,
  },
  {
    names: ["install", "i", "ci", "uninstall", "remove", "rm", "un"],
    load: async () => (await import("./install.ts")).registerInstallCommands,
  },
  { names: ["store"], load: async () => (await import("./store.ts")).registerStoreCommands },
  { names: ["peer"], load: async () => (await import("./peer.ts")).registerPeerCommands },
  {
    names: ["witness"],
    load: async () => (await import("./witness.ts")).registerWitnessCommands,
  },
];

/**
 * The program with the commands a command line needs: the module of the
 * command it names, or every module when it names none (help, --version, a
 * mistyped command that commander should suggest a fix for).
 */
export async function buildProgram(argv: readonly string[] = []): Promise<Command> {
  const program = new Command("cairn")
    .description("Cairn: a package registry that anyone can mirror and nobody has to trust")
    .version("0.1.0")
    .showHelpAfterError()
    .exitOverride();
  const named = COMMAND_MODULES.find((m) => m.names.includes(argv[0] ?? ""));
  for (const m of named ? [named] : COMMAND_MODULES) (await m.load())(program);
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
  try {
    const program = await buildProgram(argv);
    await program.parseAsync(argv, { from: "user" });
    // A command that failed without throwing (a check that found problems) set the exit code.
    return Number(process.exitCode ?? 0);
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode;
    if (err instanceof LogError || err instanceof InstallError || err instanceof CargoError) {
      process.stderr.write(`cairn: ${err.message} [${err.code}]\n`);
      return 1;
    }
    process.stderr.write(`cairn: ${(err as Error).message ?? String(err)}\n`);
    return 1;
  }
}
