/**
 * The origin under generated hostile traffic. Rounds of requests (publishes
 * with mutated manifests, tarballs and attachments; tag, owner, deprecate
 * and unpublish requests, some from stale packuments; odd names, encodings
 * and paths) are sent concurrently to a real `cairn serve`. After every
 * round: no answer is a 5xx, every refusal is a coded JSON error, the new
 * log entries are exactly the effects of the requests that got a 2xx, and
 * requests that must be refused were. At the end the server restarts with
 * the same packuments, `cairn verify --replay` passes, and `cairn rebuild`
 * gives identical packuments.
 *
 * CAIRN_FUZZ_RUNS sets the number of rounds (`npm run fuzz` runs many).
 */
import assert from "node:assert/strict";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import fc from "fast-check";
import {
  bundlePath,
  DirectorySource,
  MAX_BUNDLE_BYTES,
  MAX_CHECKPOINT_BYTES,
  openCheckpoint,
  parseBundle,
  parseVerifierKey,
  TILE_WIDTH,
} from "../../src/log/index.ts";
import { decodeEntry, type Entry, isPackageEntry } from "../../src/registry/entries.ts";
import { cairn } from "../helpers/cli.ts";
import {
  type Actor,
  entryKey,
  type HostileRequest,
  type Known,
  NAMES,
  type Packument,
  requestArb,
} from "../helpers/hostile-requests.ts";
import { tempDir } from "../helpers/log.ts";
import { signUp } from "../helpers/registry-client.ts";
import { type ServeProcess, startServe } from "../helpers/serve.ts";
import { fuzzRuns } from "./fuzz.ts";

const ROUNDS = fuzzRuns(40).numRuns;

/** The log's entries from `from` to the size of the tree's checkpoint. */
async function entriesSince(treeDir: string, verifierKey: string, from: number): Promise<Entry[]> {
  const source = new DirectorySource(treeDir);
  const verifier = parseVerifierKey(verifierKey);
  const note = await source.read("checkpoint", MAX_CHECKPOINT_BYTES);
  const { size } = openCheckpoint(note, [verifier], verifier.name);
  const entries: Entry[] = [];
  for (let bundle = Math.floor(from / TILE_WIDTH); bundle * TILE_WIDTH < size; bundle++) {
    const width = Math.min(TILE_WIDTH, size - bundle * TILE_WIDTH);
    const all = parseBundle(await source.read(bundlePath(bundle, width), MAX_BUNDLE_BYTES), width);
    const skip = Math.max(0, from - bundle * TILE_WIDTH);
    entries.push(...all.slice(skip).map(decodeEntry));
  }
  return entries;
}

interface Answer {
  readonly request: HostileRequest;
  readonly status: number;
  readonly body: string;
}

async function send(
  url: string,
  tokens: Record<Actor, string>,
  request: HostileRequest,
): Promise<Answer> {
  const token = tokens[request.actor];
  const res = await fetch(new URL(request.path.slice(1), url), {
    method: request.method,
    headers: { ...request.headers, ...(token ? { authorization: `Bearer ${token}` } : {}) },
    // A copy: fetch's body type wants bytes backed by a plain ArrayBuffer.
    body:
      typeof request.body === "string"
        ? request.body
        : request.body && new Uint8Array(request.body),
  });
  return { request, status: res.status, body: await res.text() };
}

/**
 * Every new package entry must be claimed by one effect of a request
 * answered 2xx; the origin's registry signatures are each claimed by the
 * publish they sign, and every publish has one.
 */
function checkEffects(answers: readonly Answer[], all: readonly Entry[]): void {
  const signed = all.filter((e) => e.kind === "signature").map((e) => `${e.name}@${e.version}`);
  const entries = all.filter((e) => e.kind !== "signature");
  for (const entry of entries)
    if (entry.kind === "publish")
      assert.ok(signed.includes(`${entry.name}@${entry.version}`), `${entry.name} is signed`);
  assert.equal(signed.length, entries.filter((e) => e.kind === "publish").length);
  const unclaimed = new Map<string, number>();
  for (const entry of entries.filter(isPackageEntry)) {
    const key = entryKey(entry);
    unclaimed.set(key, (unclaimed.get(key) ?? 0) + 1);
  }
  const context = () =>
    answers.map((a) => `${a.status} ${a.request.label}`).join("\n  ") +
    `\n new entries:\n  ${entries.filter(isPackageEntry).map(entryKey).join("\n  ")}`;
  for (const answer of answers) {
    if (answer.status < 200 || answer.status > 299) continue;
    for (const effect of answer.request.effects) {
      const left = unclaimed.get(effect) ?? 0;
      if (left > 0) unclaimed.set(effect, left - 1);
      else if (!answer.request.mayBeNoop)
        assert.fail(
          `${answer.request.label} got ${answer.status} but the log lacks ${effect}\n  ${context()}`,
        );
    }
  }
  for (const [key, left] of unclaimed)
    assert.equal(
      left,
      0,
      `the log gained ${key}, which no successful request asked for\n  ${context()}`,
    );
}

function checkAnswer(answer: Answer): void {
  const { request, status, body } = answer;
  assert.ok(status < 500, `${request.label}: ${status} ${body.slice(0, 300)}`);
  if (request.mustFail && status >= 200 && status <= 299)
    assert.fail(`${request.label} was accepted (${status}), but ${request.mustFail}`);
  if (status >= 400 && request.method !== "HEAD") {
    const parsed = JSON.parse(body) as { error?: unknown; code?: unknown };
    assert.equal(
      typeof parsed.error,
      "string",
      `${request.label}: ${status} ${body.slice(0, 200)}`,
    );
  }
}

async function packuments(url: string): Promise<Map<string, Packument>> {
  const found = new Map<string, Packument>();
  for (const name of NAMES) {
    const res = await fetch(new URL(name.replace("/", "%2f"), url));
    if (res.status === 200) found.set(name, (await res.json()) as Packument);
    else await res.body?.cancel();
  }
  return found;
}

/** Packuments as text with the server's own address taken out, to compare two runs. */
async function packumentsText(url: string): Promise<string> {
  const all = Object.fromEntries(await packuments(url));
  return JSON.stringify(all).replaceAll(url.replace(/\/$/, ""), "<server>");
}

test(`the origin survives ${ROUNDS} rounds of generated hostile requests`, async () => {
  await using dir = await tempDir("cairn-fuzz-");
  const data = join(dir.path, "data");
  const treeDir = join(data, "tree");
  // Rate limits have tests of their own; here they would turn a long run's writes into 429s.
  await mkdir(data, { recursive: true });
  await writeFile(
    join(data, "config.json"),
    JSON.stringify({
      loginsPerAddress: 0,
      loginFailuresPerUser: 0,
      writesPerAddress: 0,
      writesPerUser: 0,
    }),
  );
  let server: ServeProcess = await startServe(["--data", data]);
  try {
    const alice = await signUp(server.url, "alice", "pw-alice");
    const bob = await signUp(server.url, "bob", "pw-bob");
    const readonlyRes = await fetch(new URL("-/npm/v1/tokens", server.url), {
      method: "POST",
      headers: { authorization: `Bearer ${alice}`, "content-type": "application/json" },
      body: JSON.stringify({ password: "pw-alice", readonly: true }),
    });
    const readonlyToken = ((await readonlyRes.json()) as { token: string }).token;
    const tokens: Record<Actor, string> = {
      alice,
      bob,
      "alice-readonly": readonlyToken,
      anonymous: "",
      forged: "cairn_forged_token",
    };
    const known: { packuments: Map<string, Packument> } = { packuments: new Map() };
    let logSize = (await entriesSince(treeDir, server.verifierKey, 0)).length;

    await fc.assert(
      fc.asyncProperty(
        fc
          .integer({ min: 1, max: 6 })
          .chain((n) => fc.array(requestArb(known as Known), { minLength: n, maxLength: n })),
        async (round) => {
          const answers = await Promise.all(round.map((r) => send(server.url, tokens, r)));
          for (const answer of answers) checkAnswer(answer);
          const fresh = await entriesSince(treeDir, server.verifierKey, logSize);
          logSize += fresh.length;
          checkEffects(answers, fresh);
          known.packuments = await packuments(server.url);
        },
      ),
      // One registry accumulates state across rounds, so shrinking would replay against another state.
      { ...fuzzRuns(40), endOnFailure: true },
    );

    const before = await packumentsText(server.url);
    assert.equal(await server.stop(), 0, server.stderr());
    server = await startServe(["--data", data]);
    assert.equal(await packumentsText(server.url), before, "a restart changed the packuments");
    assert.equal(await server.stop(), 0, server.stderr());

    const verified = await cairn([
      "verify",
      treeDir,
      "--key",
      server.verifierKey,
      "--state",
      join(dir.path, "verify"),
      "--replay",
    ]);
    assert.equal(verified.code, 0, verified.stdout + verified.stderr);

    const rebuilt = await cairn(["rebuild", "--data", data]);
    assert.equal(rebuilt.code, 0, rebuilt.stderr);
    server = await startServe(["--data", data]);
    assert.equal(await packumentsText(server.url), before, "cairn rebuild changed the packuments");
  } finally {
    await server.stop();
  }
});
