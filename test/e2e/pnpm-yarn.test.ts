/** pnpm and modern Yarn against a real `cairn serve`, doing what their users do. */
import assert from "node:assert/strict";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { registryFixture } from "../helpers/fixture.ts";
import { runPnpm, runYarn, writeNpmrc, writeYarnrc } from "../helpers/npm-client.ts";
import { signUp } from "../helpers/registry-client.ts";

async function project(dir: string, manifest: object): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, "package.json"), JSON.stringify(manifest));
}

describe("pnpm against cairn serve", () => {
  test("publish, view, dist-tag, deprecate, owner, unpublish, whoami and install", async () => {
    await using fx = await registryFixture();
    const { dir, server } = fx;
    await signUp(server.url, "bob", "pw-bob");
    const npmrc = await writeNpmrc(
      dir.path,
      server.url,
      await signUp(server.url, "alice", "pw-alice"),
    );
    const store = join(dir.path, "store");
    const pkg = join(dir.path, "pkg");
    const pnpm = async (args: string[], cwd = dir.path) => {
      const result = await runPnpm(args, cwd, npmrc, store);
      assert.equal(result.code, 0, `pnpm ${args.join(" ")}: ${result.stdout} ${result.stderr}`);
      return result.stdout;
    };
    for (const version of ["1.0.0", "1.1.0", "1.2.0"]) {
      await project(pkg, { name: "pn-pkg", version, main: "index.js" });
      await writeFile(join(pkg, "index.js"), `module.exports = ${JSON.stringify(version)};\n`);
      await pnpm(["publish", "--no-git-checks"], pkg);
    }
    assert.equal((await pnpm(["whoami"])).trim(), "alice");
    assert.deepEqual(JSON.parse(await pnpm(["view", "pn-pkg", "versions", "--json"])), [
      "1.0.0",
      "1.1.0",
      "1.2.0",
    ]);
    await pnpm(["dist-tag", "add", "pn-pkg@1.0.0", "stable"]);
    assert.match(await pnpm(["dist-tag", "ls", "pn-pkg"]), /stable: 1\.0\.0/);
    await pnpm(["dist-tag", "rm", "pn-pkg", "stable"]);
    await pnpm(["deprecate", "pn-pkg@1.0.0", "too old"]);
    // pnpm names the package first: `pnpm owner add <pkg> <user>`.
    await pnpm(["owner", "add", "pn-pkg", "bob"]);
    assert.deepEqual(
      (await pnpm(["owner", "ls", "pn-pkg"]))
        .trim()
        .split(/\s+/)
        // Each owner is printed as `name <email>`.
        .filter((w) => !/^<.*>$/.test(w))
        .sort(),
      ["alice", "bob"],
    );
    await pnpm(["owner", "rm", "pn-pkg", "bob"]);
    await pnpm(["unpublish", "pn-pkg@1.2.0"]);
    const packument = (await (await fetch(new URL("pn-pkg", server.url))).json()) as {
      versions: Record<string, { deprecated?: string }>;
      "dist-tags": Record<string, string>;
    };
    assert.deepEqual(Object.keys(packument.versions), ["1.0.0", "1.1.0"]);
    assert.equal(packument.versions["1.0.0"].deprecated, "too old");
    assert.equal(packument["dist-tags"].latest, "1.1.0");

    const app = join(dir.path, "app");
    await project(app, { name: "app", version: "1.0.0", private: true });
    // pnpm holds back versions younger than its minimum release age; a fresh test registry has nothing older.
    await writeNpmrc(app, server.url);
    await writeFile(join(app, "pnpm-workspace.yaml"), "minimumReleaseAge: 0\n");
    await pnpm(["add", "pn-pkg@^1.0.0"], app);
    assert.equal(
      await readFile(join(app, "node_modules/pn-pkg/index.js"), "utf8"),
      'module.exports = "1.1.0";\n',
    );
  });
});

describe("modern Yarn against cairn serve", () => {
  test("publish, info, tags, whoami and install", async () => {
    await using fx = await registryFixture();
    const { dir, server } = fx;
    const token = await signUp(server.url, "alice", "pw-alice");
    const yarn = async (args: string[], cwd: string) => {
      const result = await runYarn(args, cwd);
      assert.equal(result.code, 0, `yarn ${args.join(" ")}: ${result.stdout} ${result.stderr}`);
      return result.stdout;
    };
    const pkg = join(dir.path, "pkg");
    await project(pkg, { name: "yn-pkg", version: "1.0.0", main: "index.js" });
    await writeFile(join(pkg, "index.js"), "module.exports = 'from yarn';\n");
    await writeFile(join(pkg, "yarn.lock"), "");
    await writeYarnrc(pkg, server.url, token, join(dir.path, "cache-pkg"));
    await yarn(["install"], pkg);
    await yarn(["npm", "publish"], pkg);
    assert.match(await yarn(["npm", "whoami"], pkg), /alice/);
    const info = JSON.parse(await yarn(["npm", "info", "yn-pkg", "--json"], pkg)) as {
      versions: string[];
    };
    assert.deepEqual(info.versions, ["1.0.0"]);
    await yarn(["npm", "tag", "add", "yn-pkg@1.0.0", "stable"], pkg);
    assert.match(await yarn(["npm", "tag", "list", "yn-pkg"], pkg), /yn-pkg@stable → 1\.0\.0/);
    await yarn(["npm", "tag", "remove", "yn-pkg", "stable"], pkg);

    const app = join(dir.path, "app");
    await project(app, { name: "app", version: "1.0.0", private: true });
    await writeFile(join(app, "yarn.lock"), "");
    await writeYarnrc(app, server.url, undefined, join(dir.path, "cache-app"));
    await yarn(["add", "yn-pkg@^1.0.0"], app);
    assert.equal(
      await readFile(join(app, "node_modules/yn-pkg/index.js"), "utf8"),
      "module.exports = 'from yarn';\n",
    );
    assert.match(await readFile(join(app, "yarn.lock"), "utf8"), /yn-pkg@npm:\^1\.0\.0/);
  });
});
