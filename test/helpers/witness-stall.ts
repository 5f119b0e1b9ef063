/**
 * A witness process whose requests for one checkpoint size stall between
 * the checks and the swap, printing `stalled <size>`, until a line arrives
 * on standard input (see witness.ts).
 */
import { once } from "node:events";
import { runWitness } from "../../src/witness/index.ts";

const [dataDir, stallSize, ...logs] = process.argv.slice(2);
const running = await runWitness({
  dataDir,
  logs,
  port: 0,
  beforeSwap: async (_origin, size) => {
    if (size !== Number(stallSize)) return;
    const released = once(process.stdin, "data");
    process.stdout.write(`stalled ${size}\n`);
    await released;
  },
});
process.stdout.write(`witness listening on ${running.url}\n`);
