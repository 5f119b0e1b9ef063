/** `npm login`, `pnpm login` and `yarn npm login` typed at a terminal, as a newcomer does. */
import assert from "node:assert/strict";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { registryFixture } from "../helpers/fixture.ts";
import { runNpm, writeNpmrc } from "../helpers/npm-client.ts";
import { runInteractive } from "../helpers/pty.ts";
import { PROJECT_ROOT } from "../helpers/shared.ts";

const credentials = (user: string, password: string) => [
  { prompt: /Username/i, answer: user },
  { prompt: /Password/i, answer: password },
  { prompt: /Email/i, answer: `${user}@example.org` },
];

describe("interactive login", () => {
  test("npm login signs up a new user, logs in again, and refuses a wrong password", async () => {
    await using fx = await registryFixture();
    const { dir, server } = fx;
    const npmrc = await writeNpmrc(dir.path, server.url);
    const env = { npm_config_userconfig: npmrc, npm_config_cache: join(dir.path, "cache") };
    const first = await runInteractive("npm login", credentials("carol", "s3cret-pass"), {
      cwd: dir.path,
      env,
    });
    assert.equal(first.code, 0, first.output);
    assert.match(await readFile(npmrc, "utf8"), /:_authToken=cairn_/);
    const whoami = await runNpm(["whoami"], dir.path, npmrc, env.npm_config_cache);
    assert.equal(whoami.stdout.trim(), "carol");
    const again = await runInteractive("npm login", credentials("carol", "s3cret-pass"), {
      cwd: dir.path,
      env,
    });
    assert.equal(again.code, 0, again.output);
    const wrong = await runInteractive("npm login", credentials("carol", "not-the-password"), {
      cwd: dir.path,
      env,
    });
    assert.notEqual(wrong.code, 0);
  });

  test("pnpm login and yarn npm login", async () => {
    await using fx = await registryFixture();
    const { dir, server } = fx;
    const npmrc = await writeNpmrc(dir.path, server.url);
    const pnpm = join(PROJECT_ROOT, "node_modules", ".bin", "pnpm");
    const viaPnpm = await runInteractive(`${pnpm} login`, credentials("dave", "pw-dave"), {
      cwd: dir.path,
      env: { npm_config_userconfig: npmrc, HOME: dir.path },
    });
    assert.equal(viaPnpm.code, 0, viaPnpm.output);
    assert.match(viaPnpm.output, /Logged in as dave/);

    const project = join(dir.path, "yarn-project");
    await mkdir(project);
    await writeFile(join(project, "package.json"), '{"name":"y","private":true}');
    await writeFile(join(project, "yarn.lock"), "");
    await writeFile(
      join(project, ".yarnrc.yml"),
      `npmRegistryServer: "${server.url.replace(/\/$/, "")}"\nunsafeHttpWhitelist: ["127.0.0.1"]\nenableTelemetry: false\n`,
    );
    const yarn = `${process.execPath} ${join(PROJECT_ROOT, "node_modules", "@yarnpkg", "cli-dist", "bin", "yarn.js")}`;
    const viaYarn = await runInteractive(`${yarn} npm login`, credentials("erin", "pw-erin"), {
      cwd: project,
      env: { HOME: dir.path },
    });
    assert.equal(viaYarn.code, 0, viaYarn.output);
    assert.match(await readFile(join(dir.path, ".yarnrc.yml"), "utf8"), /npmAuthToken: cairn_/);
  });
});
