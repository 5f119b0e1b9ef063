import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { CARGO_INDEX_PREFIX } from "../../src/cargo/read-api.ts";
import { indexPath } from "../../src/cargo/rules/index-path.ts";
import { startTestOrigin } from "../helpers/origin.ts";
import { publishTinyCrate } from "../helpers/tiny-crates.ts";

describe("cargo and takedowns", () => {
  test("a taken-down crate version leaves the index file and its download answers 451 with the reason", async () => {
    await using origin = await startTestOrigin();
    await publishTinyCrate(origin, "evilc", "1.0.0");
    await publishTinyCrate(origin, "evilc", "1.1.0");
    const index = new URL(`${CARGO_INDEX_PREFIX.slice(1)}${indexPath("evilc")}`, origin.url);
    const lines = async () =>
      (await (await fetch(index)).text())
        .trim()
        .split("\n")
        .map((line) => JSON.parse(line) as { vers: string; cksum: string });
    const versions = async () => (await lines()).map((line) => line.vers);
    assert.deepEqual(await versions(), ["1.0.0", "1.1.0"]);
    // The origin's config.json sends cargo to the tree for downloads: the blob by its checksum.
    const config = new URL(`${CARGO_INDEX_PREFIX.slice(1)}config.json`, origin.url);
    const { dl } = (await (await fetch(config)).json()) as { dl: string };
    const { cksum } = (await lines())[1];
    const download = dl.replace("{sha256-checksum}", cksum);
    assert.ok(download.endsWith(cksum), download);
    assert.equal((await fetch(download)).status, 200);

    const reason = "Malware: build.rs uploads ~/.cargo/credentials";
    const moderation = { actor: "carol", ecosystem: "cargo", name: "evilc", version: "1.1.0" };
    const { index: entry } = await origin.registry.takedown({
      kind: "takedown",
      ...moderation,
      reason,
    });
    assert.deepEqual(await versions(), ["1.0.0"]);
    const refused = await fetch(download);
    assert.equal(refused.status, 451);
    assert.match(refused.headers.get("link") ?? "", /rel="blocked-by"/);
    const body = (await refused.json()) as { error: string; reason: string; entry: number };
    // cargo prints the body of a failed download: the reason is in it.
    assert.ok(body.error.includes(reason));
    assert.deepEqual([body.reason, body.entry], [reason, entry]);

    await origin.registry.takedown({ kind: "restore", ...moderation, reason: "Cleared" });
    assert.deepEqual(await versions(), ["1.0.0", "1.1.0"]);
    assert.equal((await fetch(download)).status, 200);
  });
});
