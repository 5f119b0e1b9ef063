/**
 * The installer refuses taken-down versions with the reason: resolving
 * skips them, and a lockfile that pins one fails with `taken-down` even
 * when the version's files are in the local store already.
 */
import assert from "node:assert/strict";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { VerifyingReader } from "../../src/client/verifying-reader.ts";
import { install } from "../../src/install/install.ts";
import { RegistrySource } from "../../src/install/registry-source.ts";
import { PackageStore } from "../../src/install/store.ts";
import { shapeKey } from "../../src/install/up-to-date.ts";
import { tempDir } from "../helpers/log.ts";
import { startTestOrigin } from "../helpers/origin.ts";

describe("installs and takedowns", () => {
  test("a lockfile pin of a taken-down version fails with the reason, files in the store or not", async () => {
    await using origin = await startTestOrigin();
    await using dir = await tempDir("cairn-install-takedown-");
    await origin.publish("evil", "1.0.0");
    await origin.publish("evil", "1.1.0");
    const reader = await VerifyingReader.open({
      origin: origin.url,
      verifier: origin.key.verifier,
      dataDir: join(dir.path, "reader"),
      useMirrorList: false,
      cacheTarballs: false,
      syncCacheReads: true,
    });
    try {
      const store = await PackageStore.open(join(dir.path, "store"));
      const run = (projectDir: string) =>
        install({
          projectDir,
          store,
          source: new RegistrySource(reader),
          stampOptions: shapeKey({
            frozen: false,
            omit: [],
            layout: "hoisted",
            ignoreScripts: false,
          }),
          scriptOutput: "pipe",
        });
      const path = join(dir.path, "app");
      await mkdir(path);
      await writeFile(
        join(path, "package.json"),
        JSON.stringify({ dependencies: { evil: "1.1.0" } }),
      );
      await reader.update();
      await run(path);
      const lockfile = await readFile(join(path, "package-lock.json"), "utf8");
      assert.match(lockfile, /"version": "1\.1\.0"/);

      const reason = "Malware: mines coins in postinstall";
      const { index } = await origin.registry.takedown({
        kind: "takedown",
        actor: "carol",
        ecosystem: "npm",
        name: "evil",
        version: "1.1.0",
        reason,
      });
      await reader.update();
      // The lockfile still pins it and the store holds its files: refused all the same.
      const err = await run(path).then(
        () => assert.fail("the install went ahead"),
        (e: unknown) => e as { code: string; message: string },
      );
      assert.equal(err.code, "taken-down");
      assert.ok(err.message.includes(reason) && err.message.includes(`log entry ${index}`));

      // A range resolves past it to a live version.
      const ranged = join(dir.path, "ranged");
      await mkdir(ranged);
      await writeFile(
        join(ranged, "package.json"),
        JSON.stringify({ dependencies: { evil: "^1.0.0" } }),
      );
      await run(ranged);
      const installed = JSON.parse(
        await readFile(join(ranged, "node_modules/evil/package.json"), "utf8"),
      ) as { version: string };
      assert.equal(installed.version, "1.0.0");
    } finally {
      await reader.close();
    }
  });
});
