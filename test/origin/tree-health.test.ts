/**
 * Damage on the origin's disk: a flipped byte in a tile, in a bundle, a
 * truncated bundle, a damaged blob. Each is found at start or by the scrub;
 * then writes answer 503, the damaged file is not served, the status
 * endpoint says so, and `cairn serve --check` exits 1 naming the file.
 */
import assert from "node:assert/strict";
import { cp, readdir, readFile, truncate, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type RunningOrigin, type StartOptions, startOrigin } from "../../src/npm/origin-server.ts";
import { parsePublish } from "../../src/npm/publish.ts";
import { publishNpm } from "../../src/npm/publish-request.ts";
import type { OriginConfig } from "../../src/origin/config.ts";
import { TreeHealthError } from "../../src/origin/tree-health.ts";
import { cairn } from "../helpers/cli.ts";
import { tempDir } from "../helpers/log.ts";
import { testOriginConfig } from "../helpers/origin.ts";
import { publishBody } from "../helpers/publish-body.ts";
import { publish, signUp } from "../helpers/registry-client.ts";
import { packageJson, rawTgz } from "../helpers/tar.ts";

const config = (data: string, settings: Partial<OriginConfig> = {}) =>
  testOriginConfig(data, { scrubRate: 0, ...settings });

/**
 * More than one bundle's worth of entries (each publish, its registry
 * signature, a snapshot per batch): a full tile and bundle, then the partial ones.
 */
const PACKAGES = 150;

let work: Awaited<ReturnType<typeof tempDir>>;
let template: string;
let copies = 0;

before(async () => {
  work = await tempDir("cairn-tree-health-");
  template = join(work.path, "template");
  const origin = await startOrigin(config(template));
  try {
    await Promise.all(
      Array.from({ length: PACKAGES }, async (_, i) => {
        const name = `pkg-${i}`;
        const tgz = rawTgz([packageJson(name, "1.0.0")]);
        return publishNpm(origin.registry, {
          actor: "alice",
          ...(await parsePublish(name, publishBody({ name, version: "1.0.0" }, tgz))),
        });
      }),
    );
    assert.ok(origin.registry.appender.size > 256 && origin.registry.appender.size < 512);
  } finally {
    await origin.close();
  }
});
after(() => work[Symbol.asyncDispose]());

/** A fresh copy of the template registry, for one test to damage. */
async function copy(): Promise<string> {
  const data = join(work.path, `copy-${copies++}`);
  await cp(template, data, { recursive: true });
  return data;
}

async function flipByte(path: string, at = 40): Promise<void> {
  const data = await readFile(path);
  data[at] ^= 0xff;
  await writeFile(path, data);
}

/** The partial tile the checkpoint names: the widest of `001.p/` (older batches leave narrower ones). */
async function partial(dir: string): Promise<string> {
  const widths = (await readdir(join(dir, "001.p"))).map(Number);
  return `001.p/${Math.max(...widths)}`;
}

async function start(
  data: string,
  options: StartOptions = {},
  settings: Partial<OriginConfig> = {},
) {
  const lines: string[] = [];
  const origin = await startOrigin(config(data, settings), {
    log: (l) => lines.push(l),
    ...options,
  });
  let closed: Promise<void> | undefined;
  const close = () => {
    closed ??= origin.close();
    return closed;
  };
  return { origin, lines, close, [Symbol.asyncDispose]: close };
}

/** Waits until the scrub has finished a pass. */
function scrubbed(origin: RunningOrigin): Promise<void> {
  return new Promise((resolve) => {
    if (origin.health.status().scrub.passes > 0) return resolve();
    const stop = origin.health.onChange(() => {
      if (origin.health.status().scrub.passes === 0) return;
      stop();
      resolve();
    });
  });
}

/** What the damaged origin must do: refuse writes, not serve the file, say so, and `serve --check` fail. */
async function assertRefuses(
  { origin, lines, close }: Awaited<ReturnType<typeof start>>,
  data: string,
  path: string,
) {
  const token = await signUp(origin.url, "bob", "pw");
  const write = await publish(origin.url, token, "new-pkg", "1.0.0");
  assert.equal(write.status, 503);
  assert.equal(((await write.json()) as { code: string }).code, "tree-damaged");
  const read = await fetch(new URL(`-/cairn/${path}`, origin.url));
  assert.equal(read.status, 503);
  assert.equal(((await read.json()) as { code: string }).code, "damaged-file");
  const status = (await (await fetch(new URL("-/cairn-status", origin.url))).json()) as {
    tree: string;
    damaged: { path: string }[];
  };
  assert.equal(status.tree, "damaged");
  assert.ok(
    status.damaged.some((d) => d.path === path),
    JSON.stringify(status),
  );
  assert.ok(
    lines.some((l) => l.includes(path)),
    "a log line names the file",
  );
  await close();
  const check = await cairn(["serve", "--check", "--data", data]);
  assert.equal(check.code, 1, check.stdout + check.stderr);
  assert.match(check.stdout, new RegExp(`damaged: ${path.replaceAll(".", "\\.")}:`));
}

describe("damage on disk", () => {
  test("a whole tree checks out: writes go through and serve --check exits 0", async () => {
    const data = await copy();
    await using server = await start(data, {}, { scrubRate: 1000 });
    const { origin } = server;
    await scrubbed(origin);
    assert.equal(origin.health.status().tree, "ok");
    const token = await signUp(origin.url, "bob", "pw");
    assert.equal((await publish(origin.url, token, "new-pkg", "1.0.0")).status, 201);
    await server.close();
    const check = await cairn(["serve", "--check", "--data", data]);
    assert.equal(check.code, 0, check.stdout + check.stderr);
    assert.match(check.stdout, /^ok: \d+ entries/m);
  });

  test("a flipped byte in a full tile is found at start", async () => {
    const data = await copy();
    await flipByte(join(data, "tree/tile/0/000"));
    await using server = await start(data);
    await assertRefuses(server, data, "tile/0/000");
  });

  test("a flipped byte in a full entry bundle is found at start", async () => {
    const data = await copy();
    await flipByte(join(data, "tree/tile/entries/000"));
    await using server = await start(data);
    await assertRefuses(server, data, "tile/entries/000");
  });

  test("a truncated entry bundle is found at start", async () => {
    const data = await copy();
    await truncate(join(data, "tree/tile/entries/000"), 1000);
    await using server = await start(data);
    await assertRefuses(server, data, "tile/entries/000");
  });

  test("a bundle older than the start-up check reads is found by the scrub", async () => {
    const data = await copy();
    await flipByte(join(data, "tree/tile/entries/000"));
    await using server = await start(data, { recentBundles: 0 }, { scrubRate: 1000 });
    await scrubbed(server.origin);
    await assertRefuses(server, data, "tile/entries/000");
  });

  test("a damaged blob is found by the scrub", async () => {
    const data = await copy();
    const blobs = join(data, "tree/blob/sha256");
    const [victim] = await readdir(blobs);
    await flipByte(join(blobs, victim), 0);
    await using server = await start(data, {}, { scrubRate: 1000 });
    await scrubbed(server.origin);
    await assertRefuses(server, data, `blob/sha256/${victim}`);
  });

  test("damage at the right edge stops the start, naming the file", async () => {
    for (const dir of ["tile/0", "tile/entries"]) {
      const data = await copy();
      const path = `${dir}/${await partial(join(data, "tree", dir))}`;
      await flipByte(join(data, "tree", path), 0);
      await assert.rejects(
        start(data).then((server) => server.close()),
        (err) =>
          err instanceof TreeHealthError &&
          err.code === "tree-damaged" &&
          err.message.includes(path),
      );
      const check = await cairn(["serve", "--check", "--data", data]);
      assert.equal(check.code, 1, check.stdout + check.stderr);
      assert.ok(check.stdout.includes(`damaged: ${path}:`), check.stdout);
    }
  });
});
