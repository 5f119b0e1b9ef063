/**
 * The web interface's view of a server (src/web/source.ts), and its mount:
 * the origin and a mirror read their own state, blob store and tree; a
 * proxy reads through its verifying reader. A version's files come from
 * the file index its entry names; a version published before indexes
 * existed (or an imported one whose tarball came later) is unpacked from
 * its checked tarball instead, and kept a while.
 */
import type { FastifyInstance } from "fastify";
import { LRUCache } from "lru-cache";
import { LogClient } from "../client/log-client.ts";
import { checkMirrors, type MirrorStanding } from "../client/mirror-health.ts";
import type { NoteVerifier } from "../log/note.ts";
import type { WitnessPolicy } from "../log/policy.ts";
import type { LogSource } from "../log/tile-reader.ts";
import { BlobError } from "../registry/blob-check.ts";
import type { BlobRef, VersionEntry } from "../registry/entries.ts";
import type { PackageReader } from "../registry/package-reader.ts";
import type { RegistryState } from "../registry/state.ts";
import { SingleFlight } from "../util/single-flight.ts";
import {
  registerWeb,
  type ServerRole,
  type VersionFiles,
  WebError,
  type WebFile,
  type WebSource,
} from "../web/index.ts";
import { errorResponse } from "./error-status.ts";
import { parseFileIndex } from "./file-index.ts";
import { unpackTarball } from "./unpack.ts";

/** Unpacked versions kept for their next page: a folder view, then a file, then another. */
const UNPACKED_VERSIONS = 16;

export interface WebSourceParts {
  readonly role: ServerRole;
  readonly packages: PackageReader;
  readonly state: () => RegistryState | undefined;
  /** A blob checked against its sha256; throws (BlobError "missing") if it cannot be had. */
  readonly blob: (ref: BlobRef) => Promise<Uint8Array>;
  readonly log: LogSource;
  readonly verifier: NoteVerifier;
  /** The key the log's checkpoints are signed with now, when a client followed rotations from `verifier`. */
  readonly currentVerifier?: () => NoteVerifier;
  /** Checks the mirrors now (see mirrorCheck); webSource keeps the result a while. */
  readonly mirrors?: () => Promise<readonly MirrorStanding[]>;
}

/** How long a mirror check's result serves page views. */
const MIRROR_CHECK_TTL_MS = 30_000;
/** How long a page waits for a check; the check itself goes on, and the next view gets it. */
const MIRROR_CHECK_WAIT_MS = 10_000;
/** Each mirror request of a check gives up after this. */
const MIRROR_REQUEST_TIMEOUT_MS = 5_000;

/**
 * `cairn mirrors check` for the mirrors page: a LogClient of its own (a
 * server's working client must not have its checkpoint moved under it),
 * opened on first use, reading the origin's signed list. `stateDir` keeps
 * the checkpoint it verified.
 */
export function mirrorCheck(options: {
  readonly origin: () => string;
  readonly verifier: NoteVerifier;
  /** The server's own witness policy: a mirror it would refuse is not reported healthy. */
  readonly policy?: WitnessPolicy;
  readonly stateDir: string;
}): () => Promise<MirrorStanding[]> {
  let client: Promise<LogClient> | undefined;
  return async () => {
    client ??= LogClient.open({
      origin: options.origin(),
      verifier: options.verifier,
      policy: options.policy,
      stateDir: options.stateDir,
      timeoutMs: MIRROR_REQUEST_TIMEOUT_MS,
      // Behind is reported, not held against a mirror.
      maxLag: Number.MAX_SAFE_INTEGER,
    });
    client.catch(() => {
      client = undefined;
    });
    return checkMirrors(await client);
  };
}

/**
 * A check that runs at most once at a time, whose result (or failure)
 * serves every call for `ttlMs`, and that a caller waits on for at most
 * `waitMs`: page views can never make a server hammer its mirrors.
 */
export function cachedCheck<T>(
  check: () => Promise<T>,
  ttlMs = MIRROR_CHECK_TTL_MS,
  waitMs = MIRROR_CHECK_WAIT_MS,
): () => Promise<T> {
  const flight = new SingleFlight<"check", T>();
  let last: { readonly at: number; readonly result: Promise<T> } | undefined;
  return () => {
    if (last && performance.now() - last.at < ttlMs) return last.result;
    const result = flight.run("check", async () => {
      const settled = check();
      // Kept as `last` even when it fails: handled here so a kept failure is never "unhandled".
      settled.then(
        () => {},
        () => {},
      );
      try {
        return await settled;
      } finally {
        last = { at: performance.now(), result: settled };
      }
    });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new WebError(
              "not-available",
              `the check is still running after ${Math.round(waitMs / 1000)} s`,
            ),
          ),
        waitMs,
      );
    });
    return Promise.race([result, timeout]).finally(() => clearTimeout(timer));
  };
}

interface UnpackedVersion {
  readonly files: readonly WebFile[];
  readonly data: ReadonlyMap<string, Uint8Array>;
}

/** The key string a verifier was parsed from (every verifier of a running server was). */
function verifierKeyOf(verifier: NoteVerifier): string {
  if (!("verifierKey" in verifier) || typeof verifier.verifierKey !== "string")
    throw new Error("the web interface needs a verifier parsed from its key string");
  return verifier.verifierKey;
}

export function webSource(parts: WebSourceParts): WebSource {
  const unpacked = new LRUCache<string, Promise<UnpackedVersion>>({
    max: UNPACKED_VERSIONS,
  });

  const fromIndex = async (ref: BlobRef): Promise<VersionFiles> => {
    const index = parseFileIndex(new TextDecoder().decode(await parts.blob(ref)));
    const files: WebFile[] = [...index.files].map(([path, f]) => ({ path, ...f }));
    return { files, read: (file) => parts.blob({ sha256: file.sha256, size: file.size }) };
  };

  const fromTarball = async (entry: VersionEntry): Promise<VersionFiles> => {
    const artifact = entry.artifact;
    if (!artifact)
      throw new BlobError(
        "missing",
        `${entry.name}@${entry.version} has no tarball in the log yet`,
      );
    let contents = unpacked.get(artifact.sha256);
    if (!contents) {
      contents = parts.packages.tarball(entry).then(async (bytes) => {
        const pkg = await unpackTarball(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length), {
          integrity: `sha512-${artifact.sha512}`,
          sha256: artifact.sha256,
          name: entry.name,
          version: entry.version,
        });
        return {
          files: pkg.files.map((f): WebFile => ({ path: f.path, ...f.entry })),
          data: new Map(pkg.files.map((f) => [f.path, new Uint8Array(f.data)])),
        };
      });
      unpacked.set(artifact.sha256, contents);
      contents.catch(() => unpacked.delete(artifact.sha256));
    }
    const held = await contents;
    return {
      files: held.files,
      read: async (file) => {
        const bytes = held.data.get(file.path);
        if (!bytes)
          throw new BlobError("missing", `${entry.name}@${entry.version} has no ${file.path}`);
        return bytes;
      },
    };
  };

  return {
    role: parts.role,
    packages: parts.packages,
    state: parts.state,
    files: (entry) => (entry.files ? fromIndex(entry.files) : fromTarball(entry)),
    blob: parts.blob,
    log: parts.log,
    // Read at each page: the browser checks the checkpoint with the key it is signed with now.
    get verifierKey() {
      return verifierKeyOf(parts.currentVerifier?.() ?? parts.verifier);
    },
    ...(parts.mirrors ? { mirrors: cachedCheck(parts.mirrors) } : {}),
  };
}

/** Mounts the web interface, its errors answered through the one status table. */
export function mountWeb(app: FastifyInstance, parts: WebSourceParts): void {
  registerWeb(app, webSource(parts), {
    statusOf: (err) => errorResponse(err, "").status,
  });
}
