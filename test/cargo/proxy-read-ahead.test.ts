/**
 * A cold `cairn proxy` reads a crate's dependencies ahead, as it does an
 * npm package's: cargo learns them from an index file and asks for theirs
 * next, so the proxy has them verified by then instead of paying a round
 * trip to a source per level of the dependency tree.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { CARGO_INDEX_PREFIX } from "../../src/cargo/read-api.ts";
import { indexPath } from "../../src/cargo/rules/index-path.ts";
import { startProxy } from "../../src/proxy/server.ts";
import { tempDir } from "../helpers/log.ts";
import { startTestOrigin } from "../helpers/origin.ts";
import { publishTinyCrate } from "../helpers/tiny-crates.ts";

test("a reading-ahead proxy holds a crate's dependencies, asked in another spelling, before cargo asks", async () => {
  await using origin = await startTestOrigin();
  await using dir = await tempDir();
  await publishTinyCrate(origin, "leaf_c", "1.0.0");
  await publishTinyCrate(origin, "mid-b", "1.0.0", [["leaf-c", "^1"]]);
  await publishTinyCrate(origin, "top", "1.0.0", [["Mid_B", "^1"]]);
  await publishTinyCrate(origin, "unrelated", "1.0.0");
  const proxy = await startProxy({
    host: "127.0.0.1",
    port: 0,
    dataDir: dir.path,
    origin: origin.url,
    verifier: origin.key.verifier,
    useMirrorList: false,
    readAhead: "manifests",
  });
  try {
    const get = (name: string) =>
      fetch(new URL(`${CARGO_INDEX_PREFIX.slice(1)}${indexPath(name)}`, proxy.url));
    const requests = () => proxy.reader.client.pool.traffic().requests;
    assert.equal((await get("top")).status, 200);
    await proxy.reader.idle();
    const before = requests();
    // mid-b and leaf_c, two levels down, were read ahead: no source is asked now.
    for (const name of ["mid-b", "leaf_c"]) {
      const res = await get(name);
      assert.equal(res.status, 200, name);
      assert.match(await res.text(), new RegExp(`"name":"${name}"`));
    }
    assert.equal(requests(), before);
    // Nothing top depends on leads to unrelated: reading it costs a request.
    assert.equal((await get("unrelated")).status, 200);
    assert.ok(requests() > before);
  } finally {
    await proxy.close();
  }
});
