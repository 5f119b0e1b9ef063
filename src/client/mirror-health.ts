/**
 * `cairn mirrors check`: how each listed mirror stands against the origin.
 * For each: does it answer, is its checkpoint signed and consistent with the
 * origin's, and how far behind is it, in entries and in seconds (since the
 * origin logged the first entry the mirror lacks).
 */

import { decodeEntry } from "../registry/entries.ts";
import type { LogClient, MirrorHealth } from "./log-client.ts";

export interface MirrorStanding extends MirrorHealth {
  readonly behindEntries?: number;
  readonly behindSeconds?: number;
}

export async function checkMirrors(client: LogClient): Promise<MirrorStanding[]> {
  const head = await client.refresh();
  return Promise.all(
    client.lastHealth.map(async (health): Promise<MirrorStanding> => {
      if (health.size === undefined) return health;
      if (health.size >= head.size) return { ...health, behindEntries: 0, behindSeconds: 0 };
      const behindEntries = head.size - health.size;
      for await (const { entries } of client.entries(health.size, health.size + 1)) {
        const missedSince = Date.parse(decodeEntry(entries[0]).time);
        return {
          ...health,
          behindEntries,
          behindSeconds: Math.max(0, Math.round((Date.now() - missedSince) / 1000)),
        };
      }
      return { ...health, behindEntries };
    }),
  );
}

/** Whether a mirror answered, and whether what it served is consistent with the origin ("yes", "unknown" or "NO: <code>"). */
export function standingVerdict(s: MirrorStanding): { answered: boolean; consistent: string } {
  const answered = !s.error || !["timeout", "unavailable", "truncated"].includes(s.error.code);
  const consistent = !answered
    ? "unknown"
    : s.error && s.error.code !== "freshness"
      ? `NO: ${s.error.code}`
      : "yes";
  return { answered, consistent };
}

/** The standings as an aligned text table. */
export function formatStandings(originSize: number, standings: readonly MirrorStanding[]): string {
  const rows = [["mirror", "answers", "size", "behind", "seconds", "consistent"]];
  for (const s of standings) {
    const { answered, consistent } = standingVerdict(s);
    rows.push([
      s.url,
      answered ? `yes (${s.ms} ms)` : `no (${s.error?.code})`,
      s.size === undefined ? "-" : String(s.size),
      s.behindEntries === undefined ? "-" : String(s.behindEntries),
      s.behindSeconds === undefined ? "-" : String(s.behindSeconds),
      consistent,
    ]);
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  const lines = rows.map((r) =>
    r
      .map((cell, i) => cell.padEnd(widths[i]))
      .join("  ")
      .trimEnd(),
  );
  const problems = standings.filter((s) => s.error).map((s) => `  ${s.error?.message}`);
  return [
    `origin size ${originSize}`,
    ...lines,
    ...(problems.length ? ["", "problems:", ...problems] : []),
  ].join("\n");
}
