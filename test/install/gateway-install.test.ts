/**
 * `cairn install`'s pipeline with IPFS trustless gateways as web seeds,
 * against a real origin on loopback: tarballs and files come from the
 * gateway (counted there); a gateway that serves a wrong byte is named, set
 * aside, and the install still completes with the right bytes from the
 * origin.
 */
import assert from "node:assert/strict";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, test } from "node:test";
import type { SourceError } from "../../src/client/errors.ts";
import { VerifyingReader } from "../../src/client/verifying-reader.ts";
import { install } from "../../src/install/install.ts";
import { RegistrySource } from "../../src/install/registry-source.ts";
import { PackageStore } from "../../src/install/store.ts";
import { shapeKey } from "../../src/install/up-to-date.ts";
import { tempDir } from "../helpers/log.ts";
import { type GatewayLie, startLyingGateway } from "../helpers/lying-gateway.ts";
import { startTestOrigin, type TestOrigin } from "../helpers/origin.ts";

let origin: TestOrigin;

before(async () => {
  origin = await startTestOrigin();
  await origin.publish("tool", "1.0.0", { bin: { tool: "cli.js" } }, [
    { name: "package/cli.js", data: "#!/usr/bin/env node\nconsole.log('tool');\n" },
  ]);
  await origin.publish("lib", "2.0.0", { dependencies: { tool: "^1.0.0" } });
});
after(() => origin[Symbol.asyncDispose]());

async function installThrough(how: GatewayLie) {
  const gateway = await startLyingGateway(origin.url, how);
  await using dir = await tempDir("cairn-gw-install-");
  const problems: SourceError[] = [];
  const reader = await VerifyingReader.open({
    origin: origin.url,
    verifier: origin.key.verifier,
    dataDir: join(dir.path, "reader"),
    useMirrorList: false,
    cacheTarballs: false,
    gateways: [gateway.url],
    onProblem: (err) => problems.push(err),
  });
  try {
    await reader.update();
    const store = await PackageStore.open(join(dir.path, "store"));
    const projectDir = join(dir.path, "app");
    await mkdir(projectDir);
    await writeFile(
      join(projectDir, "package.json"),
      JSON.stringify({ dependencies: { lib: "^2.0.0" } }),
    );
    const report = await install({
      projectDir,
      store,
      source: new RegistrySource(reader),
      stampOptions: shapeKey({ frozen: false, omit: [], layout: "hoisted", ignoreScripts: false }),
      scriptOutput: "pipe",
    });
    const cli = await readFile(join(projectDir, "node_modules/tool/cli.js"), "utf8");
    const pool = reader.client.pool;
    return {
      report,
      cli,
      problems,
      gateway: pool.stats().get(gateway.url),
      benched: pool.isBenched(gateway.url),
      url: gateway.url,
    };
  } finally {
    await reader.close();
    await gateway.close();
  }
}

test("an install takes its blobs from a gateway", async () => {
  const run = await installThrough("none");
  assert.equal(run.report.fetched, 2);
  assert.equal(run.cli, "#!/usr/bin/env node\nconsole.log('tool');\n");
  assert.deepEqual(run.problems, []);
  assert.ok((run.gateway?.requests ?? 0) >= 2, "tarballs or files came from the gateway");
  assert.ok((run.gateway?.bytes ?? 0) > 0);
});

test("a gateway that flips a byte is named and set aside; the install completes from the origin", async () => {
  const run = await installThrough("flip-byte");
  assert.equal(run.report.fetched, 2);
  assert.equal(run.cli, "#!/usr/bin/env node\nconsole.log('tool');\n");
  assert.ok(run.problems.length >= 1);
  assert.ok(run.problems.every((p) => p.source === run.url && p.code === "blob" && p.hard));
  assert.equal(run.benched, true);
});
