/**
 * The registry as a verifying proxy sees it: a RegistryState built only
 * from log entries the LogClient verified, and blobs fetched from whichever
 * source has them, checked against the log before use and kept in a
 * content-addressed cache. It is the PackageReader behind `cairn proxy`.
 *
 * The state follows the origin's checkpoint: before a read, if the last
 * check is older than `refreshMs`, the client fetches the checkpoint, proves
 * it extends the held one, and the new entries are applied. If the origin
 * cannot be reached, reads go on from the verified state until it is older
 * than `maxStaleMs`; after that they fail rather than serve a frozen view.
 */
import { join } from "node:path";
import { LogClient, type LogClientOptions } from "../client/log-client.ts";
import type { PackageReader } from "../npm/read-api.ts";
import { verifyTarball } from "../registry/blob-check.ts";
import { decodeEntry, type PublishEntry } from "../registry/entries.ts";
import { reindexSearch } from "../registry/search-documents.ts";
import { RegistryState } from "../registry/state.ts";
import { BlobStore } from "../store/blobs.ts";

export interface VerifyingReaderOptions extends Omit<LogClientOptions, "stateDir"> {
  /** Holds the stored checkpoint, the derived state and the blob cache. */
  readonly dataDir: string;
  /** Minimum milliseconds between checkpoint checks (default 5 s). */
  readonly refreshMs?: number;
  /** How long reads may go on from a state the origin could not confirm (default 1 h). */
  readonly maxStaleMs?: number;
}

export class VerifyingReader implements PackageReader {
  readonly client: LogClient;
  readonly state: RegistryState;
  readonly #cache: BlobStore;
  readonly #options: VerifyingReaderOptions;
  readonly #listeners: ((names: ReadonlySet<string>) => void)[] = [];
  #lastRefresh = 0;
  #lastSuccess = 0;
  #updating: Promise<void> | undefined;
  #search: Promise<void> = Promise.resolve();

  private constructor(
    options: VerifyingReaderOptions,
    client: LogClient,
    state: RegistryState,
    cache: BlobStore,
  ) {
    this.#options = options;
    this.client = client;
    this.state = state;
    this.#cache = cache;
  }

  static async open(options: VerifyingReaderOptions): Promise<VerifyingReader> {
    const client = await LogClient.open({ ...options, stateDir: options.dataDir });
    const cache = await BlobStore.open(join(options.dataDir, "cache"), { durable: false });
    const state = RegistryState.open(join(options.dataDir, "state.sqlite"));
    if (state.logSize > (client.checkpoint?.size ?? 0)) {
      state.close();
      throw new Error(
        `the proxy's state in ${options.dataDir} is ahead of its verified checkpoint: remove state.sqlite`,
      );
    }
    return new VerifyingReader(options, client, state, cache);
  }

  close(): void {
    this.state.close();
  }

  onApplied(listener: (names: ReadonlySet<string>) => void): void {
    this.#listeners.push(listener);
  }

  searchSettled(): Promise<void> {
    return this.#search;
  }

  async beforeRead(): Promise<void> {
    if (Date.now() - this.#lastRefresh >= (this.#options.refreshMs ?? 5000)) await this.update();
  }

  /** Fetches and verifies the origin's checkpoint and applies every new entry; shared by concurrent callers. */
  update(): Promise<void> {
    this.#updating ??= this.#update().finally(() => {
      this.#updating = undefined;
    });
    return this.#updating;
  }

  async #update(): Promise<void> {
    this.#lastRefresh = Date.now();
    try {
      // The first refresh waits for the mirror health check so reads start from healthy mirrors.
      const cp = await this.client.refresh({
        mirrorCheck: this.#lastSuccess === 0 ? "wait" : "background",
      });
      const touched = new Set<string>();
      for await (const { first, entries } of this.client.entries(this.state.logSize, cp.size)) {
        const decoded = entries.map(decodeEntry);
        this.state.apply(first, decoded);
        for (const e of decoded) touched.add(e.name);
      }
      this.#lastSuccess = Date.now();
      if (touched.size === 0) return;
      for (const listener of this.#listeners) listener(touched);
      this.#search = this.#search
        .then(() => reindexSearch(this.state, touched, (entry) => this.#cachedManifest(entry)))
        .catch((err: unknown) => {
          process.emitWarning(`search index update failed: ${(err as Error).message}`);
        });
    } catch (err) {
      const staleFor = Date.now() - this.#lastSuccess;
      if (this.#lastSuccess === 0 || staleFor > (this.#options.maxStaleMs ?? 3_600_000)) throw err;
      process.emitWarning(
        `serving the state verified ${Math.round(staleFor / 1000)} s ago: ${(err as Error).message}`,
      );
    }
  }

  async manifest(entry: PublishEntry): Promise<Uint8Array> {
    return this.#blob(entry.manifest);
  }

  async tarball(entry: PublishEntry): Promise<Uint8Array> {
    return this.#blob(entry.artifact, (data) => verifyTarball(entry.artifact, data));
  }

  /** From the cache (which re-checks the SHA-256 on read), else from a source, verified, then cached. */
  async #blob(
    ref: { sha256: string; size: number },
    check?: (data: Uint8Array) => void,
  ): Promise<Uint8Array> {
    const cached = await this.#cache.get(ref.sha256);
    if (cached && cached.length === ref.size) {
      check?.(cached);
      return cached;
    }
    const data = await this.client.blob(ref, check);
    await this.#cache.put(data);
    return data;
  }

  async #cachedManifest(entry: PublishEntry): Promise<Record<string, unknown> | undefined> {
    const bytes = await this.#cache.get(entry.manifest.sha256);
    return bytes
      ? (JSON.parse(new TextDecoder().decode(bytes)) as Record<string, unknown>)
      : undefined;
  }
}
