/** Copies the state's core tables off the main thread: a large registry takes seconds. */
import { parentPort, workerData } from "node:worker_threads";
import { copyCoreTables } from "../registry/database-file.ts";

const { statePath, outPath } = workerData as { statePath: string; outPath: string };
parentPort?.postMessage(copyCoreTables(statePath, outPath));
