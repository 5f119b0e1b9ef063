/**
 * A mirror that lies: it serves a copy of a real static tree under
 * `/-/cairn/`, as a Cairn server does, and applies one attack to what it
 * sends. The attack can be changed while it runs; every request is logged.
 */
import { readdir, readFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { join } from "node:path";
import { parseNote, parseTilePath, signNote } from "../../src/log/index.ts";
import { canonicalJsonBytes } from "../../src/registry/canonical-json.ts";
import { SNAPSHOT_HEADER } from "../../src/registry/snapshot.ts";
import { testKey } from "./log.ts";
import { listenOnLoopback } from "./loopback.ts";

export type Attack =
  | "honest"
  /** One byte of every tarball blob changed. */
  | "tarball-byte"
  /** One byte of every manifest blob changed. */
  | "manifest-byte"
  /** One byte of every hash tile changed. */
  | "tile-byte"
  /** One byte of every entry bundle changed. */
  | "bundle-byte"
  /** The last entry of every entry bundle left out. */
  | "drop-entry"
  /** Every tarball answered with 404, as if the version were gone. */
  | "drop-tarball"
  /** An old checkpoint (`oldCheckpoint`) in place of the current one. */
  | "rollback"
  /** The checkpoint re-signed by another key of the same name. */
  | "other-key"
  /** Another tree entirely (`forkTreeDir`): a second log signed with the real origin key. */
  | "fork"
  /** Every response cut off halfway, its declared length unchanged. */
  | "truncate"
  /** Every blob and tile answered with a body that never ends. */
  | "endless"
  /** Every request left unanswered. */
  | "stall"
  /** One byte of every package document changed. */
  | "document-byte"
  /** Every package document answered with an older one of the same package (from `historyTreeDir`). */
  | "document-stale"
  /** Every package document re-encoded without its newest version: well-formed, and a lie. */
  | "document-hide-version"
  /** Every package document re-encoded with its newest version's artifact SHA-256 changed (a crate's index line `cksum`). */
  | "document-edit-version"
  /** Every package document re-encoded with no version yanked (a hidden yank). */
  | "document-unyank"
  /** Every snapshot shard answered with an older shard (from `historyTreeDir`). */
  | "shard-stale"
  /** Every snapshot shard without its last package. */
  | "shard-hide-package"
  /** Every snapshot root answered with an older root (from `historyTreeDir`). */
  | "root-stale"
  /** One byte of every SQLite snapshot (a zstd blob) changed. */
  | "database-byte"
  /** One byte of every version's file index changed. */
  | "index-byte"
  /** One byte of every per-file delta changed. */
  | "delta-byte"
  /** One byte of every blob that is none of the kinds above (a package's single files, a manifest) changed. */
  | "file-byte";

export interface MaliciousMirrorOptions {
  /** The honest tree to start from. */
  readonly treeDir: string;
  readonly attack?: Attack;
  /** For "rollback": the signed note of an earlier checkpoint of the same log. */
  readonly oldCheckpoint?: Uint8Array;
  /** For "fork": a tree of a different log signed with the origin's key. */
  readonly forkTreeDir?: string;
  /** For the stale attacks: a tree that keeps superseded snapshot files (the origin's). */
  readonly historyTreeDir?: string;
}

export interface MaliciousMirror {
  readonly url: string;
  /** Tree paths requested so far, in order. */
  readonly requests: string[];
  attack: Attack;
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

const PREFIX = "/-/cairn/";

function flipByte(data: Uint8Array): Buffer {
  const out = Buffer.from(data);
  if (out.length > 0) out[Math.floor(out.length / 2)] ^= 0x01;
  return out;
}

function isTarball(data: Uint8Array): boolean {
  return data[0] === 0x1f && data[1] === 0x8b;
}

/** What a blob is, from its bytes: the snapshot files, manifests and tarballs are told apart by their openings. */
function blobKind(
  data: Uint8Array,
): "root" | "shard" | "document" | "index" | "manifest" | "tarball" | "database" | "other" {
  const head = Buffer.from(data.subarray(0, 32)).toString("latin1");
  if (isTarball(data)) return "tarball";
  if (data[0] === 0x28 && data[1] === 0xb5 && data[2] === 0x2f && data[3] === 0xfd)
    return "database";
  if (head.startsWith(`${SNAPSHOT_HEADER}\n`)) return "root";
  if (/^[a-z]+\//.test(head)) return "shard";
  // A package document is canonical JSON, so its first key is `created`.
  if (head.startsWith('{"created":')) return "document";
  // So is a file index, whose first key is `files`.
  if (head.startsWith('{"files":')) return "index";
  return head.startsWith("{") ? "manifest" : "other";
}

/** A document without its newest version, still canonical JSON. */
function hideNewestVersion(data: Uint8Array): Buffer {
  const doc = JSON.parse(Buffer.from(data).toString("utf8"));
  const newest = Object.entries(doc.versions as Record<string, { index: number }>).sort(
    (a, b) => b[1].index - a[1].index,
  )[0]?.[0];
  if (newest !== undefined) delete doc.versions[newest];
  return Buffer.from(canonicalJsonBytes(doc));
}

/** A document with every version rewritten by `edit`, re-encoded as canonical JSON. */
function editVersions(
  data: Uint8Array,
  edit: (version: Record<string, unknown>, newest: boolean) => void,
): Buffer {
  const doc = JSON.parse(Buffer.from(data).toString("utf8"));
  const versions = Object.values(doc.versions as Record<string, { index: number }>);
  const newest = Math.max(...versions.map((v) => v.index));
  for (const v of versions) edit(v, v.index === newest);
  return Buffer.from(canonicalJsonBytes(doc));
}

/** A SHA-256 in hex other than `hex`, still well-formed. */
const otherHash = (hex: string) => `${hex[0] === "0" ? "1" : "0"}${hex.slice(1)}`;

/** A shard without its last line. */
function dropLastLine(data: Uint8Array): Buffer {
  const text = Buffer.from(data).toString("utf8");
  return Buffer.from(text.slice(0, text.lastIndexOf("\n", text.length - 2) + 1));
}

/** Every blob of a tree that keeps history, by kind, for the stale attacks. */
async function historyOf(dir: string): Promise<Map<string, Buffer[]>> {
  const byKind = new Map<string, Buffer[]>();
  const blobDir = join(dir, "blob", "sha256");
  for (const name of await readdir(blobDir)) {
    const data = await readFile(join(blobDir, name));
    const kind = blobKind(data);
    byKind.set(kind, [...(byKind.get(kind) ?? []), data]);
  }
  return byKind;
}

/** An older file of the same kind (and, for a document, of the same package) than `data`. */
function staleOf(data: Uint8Array, history: Map<string, Buffer[]>): Buffer | undefined {
  const kind = blobKind(data);
  const name = kind === "document" ? JSON.parse(Buffer.from(data).toString("utf8")).name : "";
  return (history.get(kind) ?? []).find(
    (old) =>
      !old.equals(data) && (kind !== "document" || JSON.parse(old.toString("utf8")).name === name),
  );
}

/** The same note text signed by a fresh key that has the same name. */
function resign(note: Uint8Array): Buffer {
  const { text, signatures } = parseNote(note);
  const impostor = testKey(signatures[0].name);
  return Buffer.from(signNote(text, [impostor.signer]));
}

/** An entry bundle without its last entry. */
function dropLastEntry(bundle: Uint8Array): Buffer {
  let at = 0;
  let last = 0;
  while (at + 2 <= bundle.length) {
    last = at;
    at += 2 + ((bundle[at] << 8) | bundle[at + 1]);
  }
  return Buffer.from(bundle.subarray(0, last));
}

export async function startMaliciousMirror(
  options: MaliciousMirrorOptions,
): Promise<MaliciousMirror> {
  const requests: string[] = [];
  const state = { attack: options.attack ?? ("honest" as Attack) };
  const history = options.historyTreeDir ? await historyOf(options.historyTreeDir) : new Map();

  const send = (res: ServerResponse, status: number, body: Uint8Array | string) => {
    res.writeHead(status, { "content-type": "application/octet-stream" }).end(body);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? "/", "http://mirror");
    if (!url.pathname.startsWith(PREFIX)) return send(res, 404, "not found");
    const path = url.pathname.slice(PREFIX.length);
    requests.push(path);
    const attack = state.attack;
    if (attack === "stall") return; // The socket stays open until the client gives up.

    const dir = attack === "fork" && options.forkTreeDir ? options.forkTreeDir : options.treeDir;
    let data: Uint8Array;
    try {
      if (path.includes("..")) throw new Error("bad path");
      data =
        attack === "rollback" && path === "checkpoint" && options.oldCheckpoint
          ? options.oldCheckpoint
          : await readFile(join(dir, path));
    } catch {
      return send(res, 404, "not found");
    }
    const isBlob = path.startsWith("blob/");
    const kind = isBlob
      ? blobKind(data)
      : path.startsWith("tile/")
        ? parseTilePath(path).kind
        : path;

    switch (attack) {
      case "tarball-byte":
        if (kind === "tarball") data = flipByte(data);
        break;
      case "manifest-byte":
        if (kind === "manifest") data = flipByte(data);
        break;
      case "document-byte":
        if (kind === "document") data = flipByte(data);
        break;
      case "database-byte":
        if (kind === "database") data = flipByte(data);
        break;
      case "index-byte":
        if (kind === "index") data = flipByte(data);
        break;
      case "delta-byte":
        if (path.startsWith("delta/")) data = flipByte(data);
        break;
      case "file-byte":
        if (kind === "manifest" || kind === "other") data = flipByte(data);
        break;
      case "document-hide-version":
        if (kind === "document") data = hideNewestVersion(data);
        break;
      case "document-edit-version":
        if (kind === "document")
          data = editVersions(data, (v, newest) => {
            const artifact = v.artifact as { sha256: string } | undefined;
            if (newest && artifact) artifact.sha256 = otherHash(artifact.sha256);
          });
        break;
      case "document-unyank":
        if (kind === "document") data = editVersions(data, (v) => delete v.yanked);
        break;
      case "shard-hide-package":
        if (kind === "shard") data = dropLastLine(data);
        break;
      case "document-stale":
      case "shard-stale":
      case "root-stale":
        if (kind === attack.slice(0, attack.indexOf("-"))) data = staleOf(data, history) ?? data;
        break;
      case "tile-byte":
        if (kind === "tile") data = flipByte(data);
        break;
      case "bundle-byte":
        if (kind === "entries") data = flipByte(data);
        break;
      case "drop-entry":
        if (kind === "entries") data = dropLastEntry(data);
        break;
      case "drop-tarball":
        if (kind === "tarball") return send(res, 404, "not found");
        break;
      case "other-key":
        if (path === "checkpoint" || path === "mirrors") data = resign(data);
        break;
      case "truncate":
        if (data.length > 1) {
          res.writeHead(200, { "content-length": data.length });
          // Destroyed only once the half is written: destroyed at once, the still corked headers never left.
          res.write(data.subarray(0, Math.floor(data.length / 2)), () => res.destroy());
          return;
        }
        break;
      case "endless":
        if (path !== "checkpoint" && path !== "mirrors") {
          res.writeHead(200, { "content-type": "application/octet-stream" });
          const chunk = Buffer.alloc(64 * 1024, 0x61);
          const pump = () => {
            while (!res.destroyed && res.write(chunk)) {}
            if (!res.destroyed) res.once("drain", pump);
          };
          pump();
          return;
        }
        break;
    }
    send(res, 200, data);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) send(res, 500, "error");
    });
  });
  const { url, close } = await listenOnLoopback(server);
  return {
    url,
    requests,
    get attack() {
      return state.attack;
    },
    set attack(value: Attack) {
      state.attack = value;
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}
