/** The proof page lists each witness's cosignature with the time its line carries. */
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { addSignatures, Cosigner } from "../../src/log/index.ts";
import { paths } from "../../src/web/paths.ts";
import { startTestOrigin } from "../helpers/origin.ts";
import { BROWSER_ACCEPT } from "../helpers/web.ts";

test("the proof page shows when each witness cosigned the checkpoint", async () => {
  await using origin = await startTestOrigin();
  await origin.publish("cosigned-a", "1.0.0");
  const at = 1_800_000_000;
  const witness = new Cosigner(
    "witness.example/w1",
    generateKeyPairSync("ed25519").privateKey,
    () => BigInt(at),
  );
  const file = join(origin.treeDir, "checkpoint");
  await writeFile(file, addSignatures(await readFile(file, "utf8"), [witness]));
  const res = await fetch(new URL(paths.proof("cosigned-a", "1.0.0"), origin.url), {
    headers: { accept: BROWSER_ACCEPT },
  });
  assert.equal(res.status, 200);
  const page = await res.text();
  const iso = new Date(at * 1000).toISOString();
  assert.match(
    page,
    new RegExp(
      `<code>witness\\.example/w1</code> key <code>${witness.keyId.toString(16).padStart(8, "0")}</code>, cosigned at <time datetime="${iso}">${iso}</time>`,
    ),
  );
});
