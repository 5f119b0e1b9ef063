/**
 * `--witness`, `--witness-threshold` and `--max-age` on the real commands:
 * `cairn sync` (remembered with the key), `cairn mirror` (an hour by
 * default, and the cosigned note relayed byte for byte) and `cairn log show`.
 */
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { cp, mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { addSignatures, Cosigner } from "../../src/log/index.ts";
import { startCairnServer } from "../helpers/cairn-server.ts";
import { cairn } from "../helpers/cli.ts";
import { tempDir } from "../helpers/log.ts";
import { startMaliciousMirror } from "../helpers/malicious-mirror.ts";
import { runNpm, writeNpmrc } from "../helpers/npm-client.ts";
import { startTestOrigin } from "../helpers/origin.ts";

describe("witness policy flags", () => {
  test("sync, mirror and log show take the policy; sync remembers it; the mirror's default maximum age is an hour", async () => {
    await using origin = await startTestOrigin();
    for (const name of ["a", "b"]) await origin.publish(name, "1.0.0");
    const now = Math.floor(Date.now() / 1000);
    let at = now;
    const witness = new Cosigner(
      "witness.example/w1",
      generateKeyPairSync("ed25519").privateKey,
      () => BigInt(at),
    );
    const other = Cosigner.generate("witness.example/w2");
    await using dir = await tempDir();
    const served = join(dir.path, "served");
    await cp(origin.treeDir, served, { recursive: true });
    const logSigned = await readFile(join(origin.treeDir, "checkpoint"), "utf8");
    await using upstream = await startMaliciousMirror({ treeDir: served });
    const env = { CAIRN_HOME: join(dir.path, "home") };
    const key = origin.key.verifierKey;
    const source = ["--origin", upstream.url, "--key", key];
    const index = join(dir.path, "index.sqlite");
    const sync = (...extra: string[]) => cairn(["sync", "--index", index, ...extra], { env });

    // Only the origin's signature: refused with the witness check, named per source.
    const refused = await sync(...source, "--witness", witness.verifierKey);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /witness check failed/);
    // Usage errors: a threshold no set of witnesses can meet, a maximum age without witnesses.
    for (const bad of [
      ["--witness", witness.verifierKey, "--witness-threshold", "2"],
      ["--max-age", "1h"],
      ["--witness", key],
      ["--witness", witness.verifierKey, "--max-age", "soon"],
    ]) {
      const r = await sync(...source, ...bad);
      assert.notEqual(r.code, 0, bad.join(" "));
    }

    // Cosigned two hours ago: fine for a client (a day), stale for a mirror (an hour).
    at = now - 7200;
    const cosigned = addSignatures(logSigned, [witness]);
    await writeFile(join(served, "checkpoint"), cosigned);
    const ok = await sync(...source, "--witness", witness.verifierKey);
    assert.equal(ok.code, 0, ok.stderr);
    const mirrorData = join(dir.path, "mirror");
    const mirror = (...extra: string[]) =>
      cairn(
        [
          "mirror",
          "--once",
          "--no-durable",
          "--from",
          upstream.url,
          "--key",
          key,
          "--data",
          mirrorData,
          ...extra,
        ],
        { env },
      );
    const stale = await mirror("--witness", witness.verifierKey);
    assert.notEqual(stale.code, 0);
    assert.match(stale.stderr, /stale check failed/);
    const relayed = await mirror("--witness", witness.verifierKey, "--max-age", "3h");
    assert.equal(relayed.code, 0, relayed.stderr);
    assert.equal(await readFile(join(mirrorData, "tree", "checkpoint"), "utf8"), cosigned);

    // The index remembers the policy with the key: a later plain sync refuses an uncosigned head.
    await writeFile(join(served, "checkpoint"), logSigned);
    const remembered = await sync();
    assert.notEqual(remembered.code, 0);
    assert.match(remembered.stderr, /witness check failed/);
    // ... and the environment's policy is taken as a flag's would be (2 of 2: one is missing).
    await writeFile(join(served, "checkpoint"), cosigned);
    const envPolicy = await cairn(["sync", "--index", index], {
      env: { ...env, CAIRN_WITNESSES: `${witness.verifierKey} ${other.verifierKey}` },
    });
    assert.match(envPolicy.stderr, /witness check failed/);

    // log verify applies the policy and reports the cosignatures; a policy naming another witness fails.
    const verified = await cairn(
      ["log", "verify", served, "--key", key, "--witness", witness.verifierKey],
      { env },
    );
    assert.equal(verified.code, 0, verified.stderr);
    assert.match(verified.stdout, /cosigned by witness\.example\/w1\+[0-9a-f]{8} .* valid\n/);
    assert.match(verified.stdout, /cosigned by 1 of the trusted witnesses/);
    const unwitnessed = await cairn(
      ["log", "verify", served, "--key", key, "--witness", other.verifierKey],
      { env },
    );
    assert.notEqual(unwitnessed.code, 0);
    assert.match(unwitnessed.stdout, /unknown key/);

    // log show reports each cosignature: name, key ID, time and whether it verified.
    const show = await cairn(
      ["log", "show", served, "--key", key, "--witness", witness.verifierKey],
      { env },
    );
    assert.equal(show.code, 0, show.stderr);
    const id = witness.keyId.toString(16).padStart(8, "0");
    assert.match(
      show.stdout,
      new RegExp(
        `cosigned by witness\\.example/w1\\+${id}  ${new Date(at * 1000).toISOString()}  valid`,
      ),
    );
  });

  test("cairn install and cairn proxy (with npm) take --witness: an uncosigned registry is refused, a cosigned one installs", async () => {
    await using origin = await startTestOrigin();
    await origin.publish("witnessed-dep", "1.0.0");
    await using dir = await tempDir();
    const served = join(dir.path, "served");
    await cp(origin.treeDir, served, { recursive: true });
    await using upstream = await startMaliciousMirror({ treeDir: served });
    const witness = Cosigner.generate("witness.example/w1");
    const key = origin.key.verifierKey;
    const source = ["--origin", upstream.url, "--key", key];
    const args = (data: string) => [
      "proxy",
      ...source,
      "--witness",
      witness.verifierKey,
      "--port",
      "0",
      "--data",
      join(dir.path, data),
    ];
    const env = { ...process.env, CAIRN_HOME: join(dir.path, "home") };
    await assert.rejects(
      startCairnServer(args("refused"), 60_000, undefined, env),
      /witness check failed/,
    );

    const project = join(dir.path, "app");
    await mkdir(project);
    await writeFile(join(project, "package.json"), '{"name":"app","version":"1.0.0"}\n');
    const install = () =>
      cairn(
        ["install", "witnessed-dep", ...source, "--witness", witness.verifierKey, "--no-peers"],
        { cwd: project, env: { CAIRN_HOME: join(dir.path, "install-home") } },
      );
    const uncosigned = await install();
    assert.notEqual(uncosigned.code, 0);
    assert.match(uncosigned.stderr, /witness check failed/);

    const logSigned = await readFile(join(served, "checkpoint"), "utf8");
    await writeFile(join(served, "checkpoint"), addSignatures(logSigned, [witness]));
    const installed = await install();
    assert.equal(installed.code, 0, installed.stderr);
    assert.match(
      await readFile(join(project, "node_modules", "witnessed-dep", "package.json"), "utf8"),
      /"version":\s*"1\.0\.0"/,
    );
    await using proxy = await startCairnServer(args("proxy"), 60_000, undefined, env);
    await writeFile(join(dir.path, "package.json"), "{}");
    const npmrc = await writeNpmrc(dir.path, proxy.url);
    const npmInstalled = await runNpm(
      ["install", "witnessed-dep", "--no-audit", "--no-fund"],
      dir.path,
      npmrc,
      join(dir.path, "npm-cache"),
    );
    assert.equal(npmInstalled.code, 0, npmInstalled.stderr);
    const pkg = JSON.parse(
      await readFile(join(dir.path, "node_modules", "witnessed-dep", "package.json"), "utf8"),
    ) as { version: string };
    assert.equal(pkg.version, "1.0.0");
  });
  test("cairn install --peer under a freeze refuses the held checkpoint past the maximum age", async () => {
    await using origin = await startTestOrigin();
    await origin.publish("witnessed-dep", "1.0.0");
    await using dir = await tempDir();
    const served = join(dir.path, "served");
    await cp(origin.treeDir, served, { recursive: true });
    const witness = new Cosigner(
      "witness.example/w1",
      generateKeyPairSync("ed25519").privateKey,
      // Cosigned half an hour ago, and never again: a frozen upstream.
      () => BigInt(Math.floor(Date.now() / 1000) - 1800),
    );
    const logSigned = await readFile(join(served, "checkpoint"), "utf8");
    await writeFile(join(served, "checkpoint"), addSignatures(logSigned, [witness]));
    await using upstream = await startMaliciousMirror({ treeDir: served });
    const project = join(dir.path, "app");
    await mkdir(project);
    await writeFile(join(project, "package.json"), '{"name":"app","version":"1.0.0"}\n');
    const install = (...extra: string[]) =>
      cairn(
        [
          "install",
          "witnessed-dep",
          "--origin",
          upstream.url,
          "--key",
          origin.key.verifierKey,
          "--witness",
          witness.verifierKey,
          ...extra,
        ],
        { cwd: project, env: { CAIRN_HOME: join(dir.path, "home") } },
      );
    const fresh = await install("--max-age", "1h", "--no-peers");
    assert.equal(fresh.code, 0, fresh.stderr);
    // The same checkpoint, now older than the maximum age: asking peers does not make it usable.
    const frozen = await install("--max-age", "10m", "--peer", upstream.url);
    assert.notEqual(frozen.code, 0, frozen.stderr);
    assert.match(frozen.stderr, /stale check failed/);
    assert.doesNotMatch(frozen.stderr, /installing under the checkpoint verified before/);
  });
});
