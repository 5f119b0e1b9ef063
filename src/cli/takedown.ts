/**
 * `cairn takedown <name>[@version] --reason "…"` and `cairn restore …`:
 * a moderator's act, recorded in the log with its public reason. Given
 * `--registry <url>` and a moderator's `--token`, it asks the running
 * origin (PUT/DELETE /-/cairn/takedown); otherwise it acts on the data
 * directory of a stopped origin, as the local operator. Both end in
 * Registry.takedown.
 */
import type { Command } from "commander";
import { TAKEDOWN_PATH } from "../npm/takedown-routes.ts";
import { loadConfig } from "../origin/config.ts";
import { dataPaths } from "../origin/data-paths.ts";
import { loadOrCreateKey } from "../origin/keys.ts";
import { Registry, type TakedownRequest } from "../origin/registry.ts";

/** The actor of takedowns made on the data directory: a form no user name can take. */
export const OPERATOR_ACTOR = "cairn:operator";

interface TakedownFlags {
  reason: string;
  ecosystem: string;
  purge?: boolean;
  registry?: string;
  token?: string;
  data?: string;
  config?: string;
}

/** `name@version` or `@scope/name@version`: the version after the last "@" that is not the first character. */
export function parseSpec(spec: string): { name: string; version?: string } {
  const at = spec.lastIndexOf("@");
  return at > 0 ? { name: spec.slice(0, at), version: spec.slice(at + 1) } : { name: spec };
}

async function overHttp(request: TakedownRequest, registry: string, token: string) {
  const { kind, actor: _, ...body } = request;
  const response = await fetch(new URL(TAKEDOWN_PATH, registry), {
    method: kind === "takedown" ? "PUT" : "DELETE",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const answer = (await response.json().catch(() => ({}))) as { entry?: number; error?: string };
  if (!response.ok)
    throw new Error(`${registry} refused: ${answer.error ?? `HTTP ${response.status}`}`);
  return answer.entry;
}

async function onDataDir(request: TakedownRequest, flags: TakedownFlags) {
  const config = await loadConfig({ data: flags.data }, flags.config);
  const key = await loadOrCreateKey(dataPaths(config.data).key, config.origin);
  const registry = await Registry.open({ dataDir: config.data, key, durable: config.durable });
  try {
    return (await registry.takedown(request)).index;
  } finally {
    await registry.close();
  }
}

function register(program: Command, kind: TakedownRequest["kind"]): void {
  const command = program
    .command(kind)
    .description(
      kind === "takedown"
        ? "take a package or one version down everywhere, with a public reason kept in the log"
        : "restore a package or version that was taken down, with a public reason",
    )
    .argument("<spec>", "name or name@version (no version: the whole package)")
    .requiredOption("--reason <text>", "the public reason (one line, at most 1024 characters)")
    .option("--ecosystem <id>", "npm or cargo", "npm")
    .option("--registry <url>", "ask this running origin, with --token of a moderator")
    .option("--token <token>", "a moderator's token, for --registry")
    .option("--data <dir>", "otherwise: the data directory of a stopped origin")
    .option("--config <file>", "JSON config file (default: <data>/config.json)");
  if (kind === "takedown")
    command.option("--purge", "delete the bytes rather than keep them aside for a restore");
  command.action(async (spec: string, flags: TakedownFlags) => {
    const request: TakedownRequest = {
      kind,
      actor: OPERATOR_ACTOR,
      ecosystem: flags.ecosystem,
      ...parseSpec(spec),
      reason: flags.reason,
      ...(flags.purge ? { purge: true } : {}),
    };
    if (flags.registry !== undefined && flags.token === undefined)
      throw new Error("--registry needs --token, a moderator's token");
    const entry =
      flags.registry !== undefined && flags.token !== undefined
        ? await overHttp(request, flags.registry, flags.token)
        : await onDataDir(request, flags);
    process.stdout.write(
      `${kind === "takedown" ? "took down" : "restored"} ${spec}: log entry ${entry}\n`,
    );
  });
}

export function registerTakedownCommands(program: Command): void {
  register(program, "takedown");
  register(program, "restore");
}
