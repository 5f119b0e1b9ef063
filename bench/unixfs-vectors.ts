/**
 * IPIP-0499's two 1 GiB `unixfs-v1-2025` fixtures (2 GiB of ChaCha20
 * keystream hashed), too slow for `npm test`: checks the root CIDs
 * src/store/unixfs.ts gives against the published ones, and prints the
 * builder's throughput and peak RSS (it streams: the RSS stays small).
 *
 *   node bench/unixfs-vectors.ts
 */
import { unixfsOf } from "../src/store/unixfs.ts";
import { keystream } from "../test/helpers/keystream.ts";
import { mib, peakRss, seconds } from "./common.ts";

const GiB = 1 << 30;
const VECTORS = [
  {
    size: GiB,
    seed: "v1-2025-seed",
    root: "bafybeihmf37wcuvtx4hpu7he5zl5qaf2ineo2lqlfrapokkm5zzw7zyhvm",
  },
  {
    size: GiB + 1,
    seed: "v1-2025-seed",
    root: "bafybeibdsi225ugbkmpbdohnxioyab6jsqrmkts3twhpvfnzp77xtzpyhe",
  },
];

let failed = false;
for (const { size, seed, root } of VECTORS) {
  const start = performance.now();
  const dag = await unixfsOf(keystream(seed, size));
  const ms = performance.now() - start;
  const ok = dag.root === root;
  failed ||= !ok;
  console.log(
    `${ok ? "ok  " : "FAIL"} ${size} bytes: ${dag.root} (${dag.nodes.length} nodes, ${dag.leaves.length} leaves) in ${seconds(ms)}, ${((size / (1 << 20) / ms) * 1000).toFixed(0)} MiB/s`,
  );
}
console.log(`peak RSS ${mib(peakRss())}`);
if (failed) process.exit(1);
