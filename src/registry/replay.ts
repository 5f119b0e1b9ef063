/**
 * Brings a RegistryState up to a log's size by applying the entries it has
 * not applied yet, bundle by bundle, from a static tree it trusts (its own):
 * one bundle in memory at a time, however long the log.
 */
import {
  bundlePath,
  type LogSource,
  MAX_BUNDLE_BYTES,
  parseBundle,
  TILE_WIDTH,
} from "../log/index.ts";
import type { RegistryState } from "./state.ts";
import { decodeLogEntries } from "./void-entries.ts";

/** Applies entries [state.logSize, logSize). */
export async function replayInto(
  state: RegistryState,
  source: LogSource,
  logSize: number,
): Promise<void> {
  let at = state.logSize;
  if (at > logSize)
    throw new Error(`the state database is ahead of the log (${at} > ${logSize}): rebuild it`);
  while (at < logSize) {
    const bundle = Math.floor(at / TILE_WIDTH);
    const width = Math.min(TILE_WIDTH, logSize - bundle * TILE_WIDTH);
    const entries = parseBundle(
      await source.read(bundlePath(bundle, width), MAX_BUNDLE_BYTES),
      width,
    );
    const fresh = decodeLogEntries(at, entries.slice(at - bundle * TILE_WIDTH));
    state.apply(at, fresh);
    at += fresh.length;
  }
}
