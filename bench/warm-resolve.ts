/**
 * Warm `cairn resolve` of the corpus app against a local index, in
 * process, as a long-lived client (or the proxy) runs it: the first run
 * fills nothing but SQLite's page cache; the median of the next 20 is the
 * figure. scale-client.ts runs it on the npm-sized index; on its own,
 *
 *   node [--cpu-prof] bench/warm-resolve.ts --index <index.sqlite>
 *
 * measures an index `scale-client.ts --keep-index` left behind.
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { indexLookup } from "../src/client/index-queries.ts";
import { requestsOfPackageJson, resolve } from "../src/client/resolve.ts";
import { ECOSYSTEMS } from "../src/ecosystems/index.ts";
import { RegistryState } from "../src/registry/state.ts";
import { sharedPath } from "../test/helpers/shared.ts";
import { percentile } from "./common.ts";

export const APP_PACKAGE_JSON = sharedPath("corpus", "app-package.json");

export interface WarmResolve {
  readonly p50: number;
  readonly max: number;
  readonly nodes: number;
}

export function measureWarmResolve(indexPath: string, runs = 21): WarmResolve {
  const state = RegistryState.open(indexPath, { readOnly: true, ecosystems: ECOSYSTEMS });
  try {
    const pkg = JSON.parse(readFileSync(APP_PACKAGE_JSON, "utf8")) as Record<string, unknown>;
    const { requests, optional } = requestsOfPackageJson(pkg);
    const times: number[] = [];
    let nodes = 0;
    for (let i = 0; i < runs; i++) {
      // A fresh lookup each run: what a new `cairn resolve` against a warm disk cache does.
      const lookup = indexLookup(state);
      const t0 = performance.now();
      nodes = resolve(requests, lookup, { os: "linux", cpu: "x64", optionalRoots: optional }).nodes
        .size;
      times.push(performance.now() - t0);
    }
    const warm = times.slice(1).sort((a, b) => a - b);
    return { p50: percentile(warm, 50), max: warm[warm.length - 1], nodes };
  } finally {
    state.close();
  }
}

if (import.meta.main) {
  const { values } = parseArgs({ options: { index: { type: "string" } } });
  if (!values.index) throw new Error("usage: node bench/warm-resolve.ts --index <index.sqlite>");
  const { p50, max, nodes } = measureWarmResolve(values.index);
  console.log(
    `warm resolve: ${nodes} packages, ${p50.toFixed(1)} ms p50, ${max.toFixed(1)} ms max`,
  );
}
