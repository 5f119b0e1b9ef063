/**
 * The test LAN (test/helpers/lan.ts): this process reaches servers inside
 * its hosts, and it leaves nothing behind: not when closed
 * with a process still running inside, not when the process that built it
 * throws or is interrupted, and a run killed outright has its leftovers
 * removed by the next one, while those of a live run are kept.
 */
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { test } from "node:test";
import { pathToFileURL } from "node:url";
import { collectOutput, waitForOutput } from "../helpers/cairn-server.ts";
import { cleanStaleLans, createLan, waitForPort } from "../helpers/lan.ts";
import { PROJECT_ROOT } from "../helpers/shared.ts";

const LAN_MODULE = pathToFileURL(`${PROJECT_ROOT}/test/helpers/lan.ts`).href;

interface Names {
  readonly bridge: string;
  readonly netns: readonly string[];
}

test("a server inside a host is reachable from this process at the host's address", async () => {
  await using lan = await createLan(1);
  const [host] = lan.hosts;
  const server = host.node([
    "-e",
    `require("node:http").createServer((q, s) => s.end("inside")).listen(8080, "${host.address}")`,
  ]);
  await waitForPort(host.address, 8080);
  assert.equal(await (await fetch(`http://${host.address}:8080/`)).text(), "inside");
  assert.equal(await server.stop(), null, "ended by SIGTERM");
});

test("a closed LAN leaves no namespace, link or process", async () => {
  const lan = await createLan(2);
  const names = { bridge: lan.bridge, netns: lan.hosts.map((h) => h.netns) };
  assert.deepEqual(await remaining(names), {
    netns: names.netns,
    links: [names.bridge, `${names.bridge.slice(0, -1)}v0`, `${names.bridge.slice(0, -1)}v1`],
  });
  const inside = lan.hosts[0].node(["-e", "setInterval(() => {}, 1000)"]);
  await lan.close();
  assert.equal(await inside.exited, null, "killed by the close");
  assert.deepEqual(await remaining(names), { netns: [], links: [] });
});

for (const ending of ["throws", "is interrupted"] as const)
  test(`a process that builds a LAN and ${ending} removes it as it exits`, async () => {
    const end =
      ending === "throws"
        ? "throw new Error('midway');"
        : "process.kill(process.pid, 'SIGINT'); setInterval(() => {}, 1000);";
    const child = builder(`lan.hosts[0].node(["-e", "setInterval(() => {}, 1000)"]); ${end}`);
    const names = await builtNames(child);
    const code = await new Promise((resolve) => child.once("exit", (c, s) => resolve(c ?? s)));
    assert.equal(code, ending === "throws" ? 1 : "SIGINT");
    assert.deepEqual(await remaining(names), { netns: [], links: [] });
  });

test("the leftovers of a killed run are removed, those of a live one kept", async () => {
  const child = builder(`lan.hosts[0].node(["-e", "setInterval(() => {}, 1000)"]);`);
  const names = await builtNames(child);
  await cleanStaleLans();
  assert.equal((await remaining(names)).netns.length, 2, "its builder is alive");
  child.kill("SIGKILL");
  await new Promise((resolve) => child.once("exit", resolve));
  assert.equal((await remaining(names)).netns.length, 2, "a SIGKILL runs no handler");
  assert.notEqual(await ip("netns", "pids", names.netns[0]), "", "its process still runs inside");
  await cleanStaleLans();
  assert.deepEqual(await remaining(names), { netns: [], links: [] });
});

/** A Node process that builds a LAN of two, prints its names as JSON, then runs `then`. */
function builder(then: string) {
  const script = `import { createLan } from ${JSON.stringify(LAN_MODULE)};
    const lan = await createLan(2);
    console.log(JSON.stringify({ bridge: lan.bridge, netns: lan.hosts.map((h) => h.netns) }));
    ${then}`;
  return spawn(process.execPath, ["--input-type=module", "-e", script], {
    stdio: ["ignore", "pipe", "pipe"],
  });
}

async function builtNames(child: ReturnType<typeof builder>): Promise<Names> {
  const output = collectOutput(child);
  const [line] = await waitForOutput(child, output.stdout, /^\{.*\}$/m, 30_000).catch((e) => {
    throw new Error(`${e.message}: ${output.stderr()}`);
  });
  return JSON.parse(line) as Names;
}

/** Which of the LAN's namespaces and links still exist. */
async function remaining(names: Names): Promise<{ netns: string[]; links: string[] }> {
  const netnsOut = await ip("-j", "netns", "list");
  const netns = netnsOut.trim() ? (JSON.parse(netnsOut) as { name: string }[]) : [];
  const links = JSON.parse(await ip("-j", "link", "show")) as { ifname: string }[];
  const tag = names.bridge.slice(0, -1);
  return {
    netns: netns
      .map((n) => n.name)
      .filter((n) => names.netns.includes(n))
      .sort(),
    links: links
      .map((l) => l.ifname)
      .filter((l) => l.startsWith(tag))
      .sort(),
  };
}

function ip(...args: string[]): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile("ip", args, (err, stdout, stderr) =>
      err ? reject(new Error(stderr)) : resolve(stdout),
    ),
  );
}
