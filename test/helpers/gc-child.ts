/**
 * A `cairn gc` of the data directory in argv[2] that stops between its mark
 * and its sweep: prints "marked" and waits to be killed (test/origin/gc.test.ts).
 */
import { collectDataDir } from "../../src/gc/run.ts";

await collectDataDir({
  dataDir: process.argv[2],
  grace: 0,
  retainFor: 0,
  orphanGrace: 0,
  afterMark: async () => {
    process.stdout.write("marked\n");
    await new Promise(() => {});
  },
});
