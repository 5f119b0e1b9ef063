/**
 * What people see of a takedown through real clients: npm installing a
 * taken-down version from the origin, and through a verifying proxy, is
 * refused with the reason in its output.
 */
import assert from "node:assert/strict";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { startProxy } from "../../src/proxy/server.ts";
import { tempDir } from "../helpers/log.ts";
import { runNpm, writeNpmrc } from "../helpers/npm-client.ts";
import { startTestOrigin } from "../helpers/origin.ts";

const REASON = "Malware: exfiltrates ~/.npmrc (report 123)";

describe("takedowns through real clients", () => {
  test("npm install of a taken-down version prints the reason, from the origin and through a proxy", async () => {
    await using origin = await startTestOrigin();
    await using dir = await tempDir("cairn-takedown-npm-");
    await origin.publish("evil", "1.0.0");
    await origin.publish("evil", "1.1.0");
    const proxy = await startProxy({
      host: "127.0.0.1",
      port: 0,
      dataDir: join(dir.path, "proxy"),
      origin: origin.url,
      verifier: origin.key.verifier,
      useMirrorList: false,
      maxLag: 0,
      refreshMs: 60_000,
    });
    try {
      // The proxy caches the tarball before the takedown...
      const sha256 = origin.registry.state.table("npm").version("evil", "1.1.0")?.entry.artifact
        ?.sha256 as string;
      assert.equal((await fetch(new URL("evil/-/evil-1.1.0.tgz", proxy.url))).status, 200);
      await proxy.reader.idle();
      assert.equal(await proxy.reader.cache.has(sha256), true);
      await origin.registry.takedown({
        kind: "takedown",
        actor: "carol",
        ecosystem: "npm",
        name: "evil",
        version: "1.1.0",
        reason: REASON,
      });
      // The proxy learns of it at its next refresh, as of any entry.
      await proxy.reader.update();
      // The proxy's own answer for the tarball: 451 with the reason.
      const tgz = await fetch(new URL("evil/-/evil-1.1.0.tgz", proxy.url));
      assert.equal(tgz.status, 451, await tgz.clone().text());
      assert.equal(((await tgz.json()) as { reason: string }).reason, REASON);
      // ...and drops it once it knows.
      assert.equal(await proxy.reader.cache.has(sha256), false);
      for (const [server, url] of [
        ["origin", origin.url],
        ["proxy", proxy.url],
      ]) {
        const project = join(dir.path, `app-${server}`);
        await mkdir(project);
        await writeFile(
          join(project, "package.json"),
          JSON.stringify({ name: "app", version: "1.0.0" }),
        );
        const npmrc = await writeNpmrc(project, url);
        const cache = join(project, ".npm-cache");
        // The packument leaves the version out: npm finds no such version (ETARGET).
        const ranged = await runNpm(["install", "evil@1.1.0"], project, npmrc, cache);
        assert.notEqual(ranged.code, 0, `${server}: npm installed a taken-down version`);
        // A URL straight to the tarball (as a lockfile's resolved field is): npm prints the 451 and its reason.
        const direct = await runNpm(
          ["install", new URL("evil/-/evil-1.1.0.tgz", url).href],
          project,
          npmrc,
          cache,
        );
        assert.notEqual(direct.code, 0);
        assert.match(direct.stderr, /E451/, `${server}: ${direct.stderr}`);
        assert.ok(direct.stderr.includes(REASON), `${server}: ${direct.stderr}`);
      }
    } finally {
      await proxy.close();
    }
  });
});
