/**
 * `cairn takedown <name>[@version] --reason "…"` and `cairn restore …`:
 * a moderator's act, recorded in the log with its public reason. Given
 * `--registry <url>` and a moderator's `--token`, it asks the running
 * origin (PUT/DELETE /-/cairn/takedown); otherwise it acts on the data
 * directory of a stopped origin, as the local operator. Both end in
 * Registry.takedown.
 */
import { readFile } from "node:fs/promises";
import type { Command } from "commander";
import { restoredBytesOf } from "../npm/purged-restore.ts";
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
  tarball?: string;
  manifest?: string;
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

/** The purged bytes a restore offers (--tarball, --manifest), read from their files. */
async function offered(flags: TakedownFlags) {
  if (flags.tarball === undefined) {
    if (flags.manifest !== undefined) throw new Error("--manifest comes with --tarball");
    return undefined;
  }
  const tarball = await readFile(flags.tarball);
  const manifest = flags.manifest === undefined ? undefined : await readFile(flags.manifest);
  return { tarball, manifest };
}

type Offered = Awaited<ReturnType<typeof offered>>;

async function overHttp(request: TakedownRequest, bytes: Offered, registry: string, token: string) {
  const { kind, actor: _, ...body } = request;
  const response = await fetch(new URL(TAKEDOWN_PATH, registry), {
    method: kind === "takedown" ? "PUT" : "DELETE",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify({
      ...body,
      ...(bytes ? { tarball: bytes.tarball.toString("base64") } : {}),
      ...(bytes?.manifest ? { manifest: bytes.manifest.toString("base64") } : {}),
    }),
  });
  const answer = (await response.json().catch(() => ({}))) as { entry?: number; error?: string };
  if (!response.ok)
    throw new Error(`${registry} refused: ${answer.error ?? `HTTP ${response.status}`}`);
  return answer.entry;
}

async function onDataDir(request: TakedownRequest, bytes: Offered, flags: TakedownFlags) {
  const config = await loadConfig({ data: flags.data }, flags.config);
  const key = await loadOrCreateKey(dataPaths(config.data).key, config.origin);
  const registry = await Registry.open({ dataDir: config.data, key, durable: config.durable });
  try {
    const restored =
      bytes && (await restoredBytesOf(registry.state, request, bytes.tarball, bytes.manifest));
    return (await registry.takedown({ ...request, ...(restored ? { bytes: restored } : {}) }))
      .index;
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
  else
    command
      .option("--tarball <file>", "a purged version: its tarball, checked against the log")
      .option("--manifest <file>", "a purged version: its manifest as the log names it");
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
    const bytes = await offered(flags);
    const entry =
      flags.registry !== undefined && flags.token !== undefined
        ? await overHttp(request, bytes, flags.registry, flags.token)
        : await onDataDir(request, bytes, flags);
    process.stdout.write(
      `${kind === "takedown" ? "took down" : "restored"} ${spec}: log entry ${entry}\n`,
    );
  });
}

export function registerTakedownCommands(program: Command): void {
  register(program, "takedown");
  register(program, "restore");
}
