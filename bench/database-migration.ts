/**
 * What adopting a database file of schema 2 (from before the core tables
 * were keyed by ecosystem) costs a new client on top of the bootstrap: the
 * in-place rewrite of its core tables (`migrateV2`), on a file of npm's
 * size. The file is made from the core tables of a state `web.ts --keep`
 * left behind (227k packages, 2 million versions), in their row order, as
 * the release before wrote its copies.
 *
 *   node bench/database-migration.ts                       # the newest kept web state
 *   node bench/database-migration.ts --state bench/.work/web-XXXXXX/state.db --runs 3
 */
import { copyFileSync, readdirSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { parseArgs } from "node:util";
import { migrateV2 } from "../src/registry/database-file.ts";
import { CORE_SCHEMA_V2 } from "../src/registry/state.ts";
import {
  count,
  emitResult,
  makeWorkDir,
  mib,
  positiveInt,
  printTable,
  removeDir,
  seconds,
  WORK_DIR,
} from "./common.ts";

const { values } = parseArgs({
  options: {
    state: { type: "string" },
    runs: { type: "string" },
    help: { type: "boolean", short: "h" },
  },
});
if (values.help) {
  console.log("usage: node bench/database-migration.ts [--state web-state.db] [--runs N=3]");
  process.exit(0);
}

function keptWebState(): string {
  const kept = readdirSync(WORK_DIR)
    .filter((d) => d.startsWith("web-"))
    .map((d) => join(WORK_DIR, d, "state.db"))
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
  if (kept.length === 0) throw new Error("no kept web state: run node bench/web.ts --keep first");
  return kept[0];
}

/** A schema-2 file of the state's core tables, rows in the state's order. */
function writeV2File(statePath: string, out: string): Record<string, number> {
  const db = new DatabaseSync(out);
  try {
    db.exec("PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;");
    db.exec(CORE_SCHEMA_V2);
    db.exec("PRAGMA user_version = 2");
    db.prepare("ATTACH DATABASE ? AS source").run(statePath);
    db.exec(`BEGIN;
      INSERT INTO meta SELECT key, value FROM source.meta WHERE key = 'log_size';
      INSERT INTO packages SELECT name, created, modified, updated, unpublished FROM source.packages;
      INSERT INTO versions SELECT name, version, log_index, time, entry, deprecated, unpublished
        FROM source.versions;
      INSERT INTO dist_tags SELECT name, tag, version FROM source.dist_tags;
      INSERT INTO owners SELECT name, user FROM source.owners;
      COMMIT;`);
    db.exec("DETACH DATABASE source");
    const rows = (table: string) =>
      (db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
    return { packages: rows("packages"), versions: rows("versions") };
  } finally {
    db.close();
  }
}

const statePath = values.state ?? keptWebState();
const runs = positiveInt("runs", values.runs, 3);
const work = await makeWorkDir("database-migration");
try {
  const v2 = join(work, "v2.sqlite");
  const rows = writeV2File(statePath, v2);
  const bytes = statSync(v2).size;
  const times: number[] = [];
  let after = 0;
  for (let run = 0; run < runs; run++) {
    const copy = join(work, "adopting.sqlite");
    copyFileSync(v2, copy);
    const t = performance.now();
    migrateV2(copy);
    times.push(performance.now() - t);
    after = statSync(copy).size;
    rmSync(copy);
  }
  times.sort((a, b) => a - b);
  printTable([
    ["schema-2 file", "packages", "versions", "migration (median)", "fastest", "file after"],
    [
      mib(bytes),
      count(rows.packages),
      count(rows.versions),
      seconds(times[Math.floor(times.length / 2)]),
      seconds(times[0]),
      mib(after),
    ],
  ]);
  emitResult({ bench: "database-migration", bytes, ...rows, ms: times, bytesAfter: after });
} finally {
  await removeDir(work);
}
