/**
 * The servers of a LAN install, each on its own host of a LAN of network
 * namespaces: `cairn serve` (the origin) on one, `cairn mirror` syncing
 * from it over the bridge on a second, and `cairn install` of a small app
 * on a third, reading through the mirror; then, with the origin stopped,
 * `cairn ci` on the third host installs the same lockfile from the mirror
 * alone.
 */
import assert from "node:assert/strict";
import { copyFile, mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type CairnServer, CHECKOUT_CAIRN } from "../helpers/cairn-server.ts";
import { type CliResult, cairn } from "../helpers/cli.ts";
import { succeeded } from "../helpers/installed-tree.ts";
import { createLan, type Lan, type LanHost } from "../helpers/lan.ts";
import { startLanMirror, startLanOrigin } from "../helpers/lan-servers.ts";
import { tempDir } from "../helpers/log.ts";
import { publish, signUp } from "../helpers/registry-client.ts";
import type { ServeProcess } from "../helpers/serve.ts";

const APP = { dependencies: { "lan-demo": "1.0.0" } };
const DEMO_INDEX = "module.exports = 'served across the LAN';\n";

describe("an origin, a mirror and an installing host on three hosts of a LAN", () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let lan: Lan;
  let origin: ServeProcess | undefined;
  let mirror: CairnServer | undefined;

  before(async () => {
    dir = await tempDir();
    lan = await createLan(3);
    const [originHost, mirrorHost] = lan.hosts;
    origin = await startLanOrigin(originHost, join(dir.path, "origin"));
    // Published from this process, over the bridge.
    const token = await signUp(origin.url, "lan", "lan-password");
    const res = await publish(origin.url, token, "lan-demo", "1.0.0", [
      { name: "package/index.js", data: DEMO_INDEX },
    ]);
    assert.equal(res.status, 201, await res.text());
    mirror = await startLanMirror(mirrorHost, origin, join(dir.path, "mirror"));
  });

  after(async () => {
    await mirror?.stop();
    await origin?.stop();
    await lan?.close();
    await dir?.[Symbol.asyncDispose]();
  });

  /** `cairn <args>` on `host`, in project `cwd`, with its own CAIRN_HOME, reading through the mirror. */
  function cairnOn(host: LanHost, cwd: string, args: string[]): Promise<CliResult> {
    return cairn(
      [
        ...args,
        "--origin",
        origin?.url ?? "",
        "--key",
        origin?.verifierKey ?? "",
        "--no-mirror-list",
        "--mirror",
        mirror?.url ?? "",
      ],
      {
        cwd,
        env: { CAIRN_HOME: join(dir.path, "home") },
        command: host.command(...CHECKOUT_CAIRN),
      },
    );
  }

  test("the servers listen on their hosts' addresses", () => {
    assert.match(origin?.url ?? "", new RegExp(`^http://${lan.hosts[0].address}:\\d+`));
    assert.match(mirror?.url ?? "", new RegExp(`^http://${lan.hosts[1].address}:\\d+`));
  });

  test("cairn install on the third host installs the app through the mirror", async () => {
    const app = join(dir.path, "app");
    await mkdir(app);
    await writeFile(join(app, "package.json"), JSON.stringify(APP));
    succeeded(await cairnOn(lan.hosts[2], app, ["install"]), "cairn install");
    assert.equal(
      await readFile(join(app, "node_modules", "lan-demo", "index.js"), "utf8"),
      DEMO_INDEX,
    );
  });

  test("with the origin stopped, cairn ci on the third host installs the lockfile from the mirror", async () => {
    const app = join(dir.path, "app-ci");
    await mkdir(app);
    await writeFile(join(app, "package.json"), JSON.stringify(APP));
    await copyFile(join(dir.path, "app", "package-lock.json"), join(app, "package-lock.json"));
    await origin?.stop();
    // The home holds the checkpoint verified by the install; the store is new, so every byte comes from the mirror.
    const ci = await cairnOn(lan.hosts[2], app, ["ci", "--store", join(dir.path, "fresh-store")]);
    succeeded(ci, "cairn ci with the origin stopped");
    assert.equal(
      await readFile(join(app, "node_modules", "lan-demo", "index.js"), "utf8"),
      DEMO_INDEX,
    );
  });
});
