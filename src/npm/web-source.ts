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
import type { MirrorStanding } from "../client/mirror-health.ts";
import type { NoteVerifier } from "../log/note.ts";
import type { LogSource } from "../log/tile-reader.ts";
import { BlobError } from "../registry/blob-check.ts";
import type { BlobRef, VersionEntry } from "../registry/entries.ts";
import type { PackageReader } from "../registry/package-reader.ts";
import type { RegistryState } from "../registry/state.ts";
import {
  registerWeb,
  type ServerRole,
  type VersionFiles,
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
  readonly mirrors?: () => Promise<readonly MirrorStanding[]>;
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
    verifierKey: verifierKeyOf(parts.verifier),
    ...(parts.mirrors ? { mirrors: parts.mirrors } : {}),
  };
}

/** Mounts the web interface, its errors answered through the one status table. */
export function mountWeb(app: FastifyInstance, parts: WebSourceParts): void {
  registerWeb(app, webSource(parts), {
    statusOf: (err) => errorResponse(err, "").status,
  });
}
