/** `cairn witness init` and `cairn witness serve`: run a C2SP tlog-witness. */
import type { Command } from "commander";
import { initWitness, runWitness, witnessPaths } from "../witness/index.ts";
import { parsePort } from "./options.ts";

const collect = (value: string, previous: string[] = []) => [...previous, value];

export function registerWitnessCommands(program: Command): void {
  const witness = program
    .command("witness")
    .description(
      "run a witness that cosigns the checkpoints of logs it has checked (C2SP tlog-witness)",
    );

  witness
    .command("init")
    .description("create the witness's cosigning key and print its verifier key (0x04)")
    .requiredOption("--name <name>", "the key's name, such as witness.example.org/w1")
    .option("--data <dir>", "data directory (default: ./cairn-witness)")
    .action(async (flags: { name: string; data?: string }) => {
      const dataDir = flags.data ?? "./cairn-witness";
      const cosigner = await initWitness(dataDir, flags.name);
      process.stdout.write(
        `key file:     ${witnessPaths(dataDir).key}\nverifier key: ${cosigner.verifierKey}\n`,
      );
    });

  witness
    .command("serve")
    .description("serve POST /add-checkpoint and GET /<origin hash>/checkpoint")
    .option("--data <dir>", "data directory (default: ./cairn-witness)")
    .requiredOption(
      "--log <vkey>",
      "verifier key of a log to witness; repeatable (two keys with one name: a log across a key rotation)",
      collect,
    )
    .option("--host <host>", "address to listen on (default: 127.0.0.1)")
    .option("--port <port>", "port to listen on (default: 4874)", parsePort)
    .action(async (flags: { data?: string; log: string[]; host?: string; port?: number }) => {
      const running = await runWitness({
        dataDir: flags.data ?? "./cairn-witness",
        logs: flags.log,
        host: flags.host,
        port: flags.port ?? 4874,
      });
      process.stdout.write(
        `cairn witness listening on ${running.url}\nverifier key: ${running.cosigner.verifierKey}\n`,
      );
      await new Promise<void>((resolve) => {
        process.once("SIGINT", resolve);
        process.once("SIGTERM", resolve);
      });
      await running.close();
    });
}
