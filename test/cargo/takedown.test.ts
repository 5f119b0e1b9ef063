import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { CARGO_INDEX_PREFIX } from "../../src/cargo/read-api.ts";
import { indexPath } from "../../src/cargo/rules/index-path.ts";
import { cargoAvailable, makeCargoHome, runCargo } from "../helpers/cargo.ts";
import { tempDir } from "../helpers/log.ts";
import { startTestOrigin } from "../helpers/origin.ts";
import { publishTinyCrate } from "../helpers/tiny-crates.ts";

describe("cargo and takedowns", () => {
  test("a taken-down crate version stays in the index file as yanked and its download answers 451 with the reason", async () => {
    await using origin = await startTestOrigin();
    await publishTinyCrate(origin, "evilc", "1.0.0");
    await publishTinyCrate(origin, "evilc", "1.1.0");
    const index = new URL(`${CARGO_INDEX_PREFIX.slice(1)}${indexPath("evilc")}`, origin.url);
    const lines = async () =>
      (await (await fetch(index)).text())
        .trim()
        .split("\n")
        .map((line) => JSON.parse(line) as { vers: string; cksum: string; yanked: boolean });
    const versions = async () =>
      (await lines()).map((line) => `${line.vers}${line.yanked ? " yanked" : ""}`);
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
    // Kept in the index as yanked: new resolutions pass it by, a locked build asks and gets the 451.
    assert.deepEqual(await versions(), ["1.0.0", "1.1.0 yanked"]);
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

  test("real cargo resolves around a taken-down version, and a build locked to it prints the 451 reason", {
    skip: !cargoAvailable(),
  }, async () => {
    await using origin = await startTestOrigin();
    await publishTinyCrate(origin, "evilc", "1.0.0");
    await publishTinyCrate(origin, "evilc", "1.1.0");
    await using dir = await tempDir("cairn-cargo-takedown-");
    const sparseIndex = `${origin.url.replace(/\/$/, "")}${CARGO_INDEX_PREFIX}`;
    let homes = 0;
    const home = () => makeCargoHome(join(dir.path, `home${homes++}`), { sparseIndex });
    const app = async (name: string) => {
      const cargoHome = await home();
      await runCargo(["new", "--vcs", "none", "--lib", name], { cwd: dir.path, cargoHome });
      const cwd = join(dir.path, name);
      await writeFile(
        join(cwd, "Cargo.toml"),
        `[package]\nname = "${name}"\nversion = "0.1.0"\nedition = "2021"\n\n[dependencies]\nevilc = "1"\n\n[workspace]\n`,
      );
      return { cwd, cargoHome };
    };
    const lockedEvilc = async (cwd: string) => {
      const lock = await readFile(join(cwd, "Cargo.lock"), "utf8");
      return /name = "evilc"\nversion = "(.*)"/.exec(lock)?.[1];
    };
    // Locked to 1.1.0 before the takedown.
    const locked = await app("locked");
    await runCargo(["generate-lockfile"], locked);
    assert.equal(await lockedEvilc(locked.cwd), "1.1.0");

    const reason = "Malware: build.rs uploads ~/.cargo/credentials";
    await origin.registry.takedown({
      kind: "takedown",
      actor: "carol",
      ecosystem: "cargo",
      name: "evilc",
      version: "1.1.0",
      reason,
    });
    // A fresh resolution passes the taken-down version by.
    const fresh = await app("fresh");
    await runCargo(["generate-lockfile"], fresh);
    assert.equal(await lockedEvilc(fresh.cwd), "1.0.0");
    await runCargo(["fetch", "--locked"], fresh);
    // The build locked to it, in a fresh CARGO_HOME (nothing cached), fails with the reason.
    await assert.rejects(
      runCargo(["fetch", "--locked"], { ...locked, cargoHome: await home() }),
      (err: Error) => {
        assert.match(err.message, /451/);
        assert.ok(err.message.includes(reason), err.message);
        return true;
      },
    );
  });
});
