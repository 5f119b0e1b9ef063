/**
 * `cairn proxy --share`: the proxy's verified cache served to the LAN on a
 * port of its own. A tarball an npm client fetched through the proxy is
 * served by its peer port once answered, if shareable (the latest), and
 * not otherwise (an older, unpopular version).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { rawCid } from "../../src/store/cid.ts";
import { startCairnServer } from "../helpers/cairn-server.ts";
import { tempDir } from "../helpers/log.ts";
import { startTestOrigin } from "../helpers/origin.ts";

test("a sharing proxy serves the shareable tarballs it verified on its peer port", async () => {
  await using origin = await startTestOrigin();
  await using dir = await tempDir("cairn-proxy-share-");
  await origin.publish("lib", "1.0.0");
  await origin.publish("lib", "1.1.0");
  await using proxy = await startCairnServer([
    "proxy",
    "--origin",
    origin.url,
    "--key",
    origin.key.verifierKey,
    "--data",
    join(dir.path, "proxy"),
    "--no-mirror-list",
    "--port",
    "0",
    "--share",
    "--share-port",
    "0",
    "--no-discovery",
  ]);
  const [, blobs, peerUrl] = await proxy.waitFor(
    /^cairn proxy: sharing (\d+) blobs on http:\/\/0\.0\.0\.0:(\d+)\/$/m,
  );
  assert.equal(blobs, "0");
  const peer = `http://127.0.0.1:${peerUrl}/`;
  const state = origin.registry.state;
  for (const version of ["1.0.0", "1.1.0"]) {
    const res = await fetch(`${proxy.url}lib/-/lib-${version}.tgz`);
    assert.equal(res.status, 200);
    await res.arrayBuffer();
  }
  const cid = (version: string) =>
    rawCid(state.table("npm").version("lib", version)?.entry.artifact?.sha256 ?? "");
  const latest = await fetch(`${peer}ipfs/${cid("1.1.0")}?format=raw`);
  assert.equal(latest.status, 200);
  assert.equal(
    Buffer.from(await latest.arrayBuffer()).length,
    state.table("npm").version("lib", "1.1.0")?.entry.artifact?.size,
  );
  const older = await fetch(`${peer}ipfs/${cid("1.0.0")}?format=raw`);
  assert.equal(older.status, 404);
  await older.arrayBuffer();
  assert.equal(await proxy.stop(), 0);
});
