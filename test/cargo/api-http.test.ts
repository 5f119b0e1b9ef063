/**
 * cargo's web API on a real origin over plain HTTP, every byte chosen:
 * publish answers as crates.io does, and each refusal (crates.io's checks,
 * hostile framing, bodies that lie about their length or never end) has
 * its code and status and leaves the log and the blob store as they were.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readdir } from "node:fs/promises";
import { request } from "node:http";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { CARGO_INDEX_PREFIX } from "../../src/cargo/read-api.ts";
import { searchPopularity } from "../../src/registry/search-documents.ts";
import {
  crateFile,
  crateMetadata,
  cratePublishBody,
  madeCrateBody,
} from "../helpers/crate-body.ts";
import { startTestOrigin, type TestOrigin } from "../helpers/origin.ts";
import { signUp } from "../helpers/registry-client.ts";
import { rawTgz } from "../helpers/tar.ts";

let origin: TestOrigin;
let alice: string;
let bob: string;

before(async () => {
  origin = await startTestOrigin();
  alice = await signUp(origin.url, "alice", "alice's long password");
  bob = await signUp(origin.url, "bob", "bob's long password");
});
after(() => origin[Symbol.asyncDispose]());

const api = (path: string) => new URL(`api/v1/${path}`, origin.url);

const put = (body: Buffer, token?: string) =>
  fetch(api("crates/new"), {
    method: "PUT",
    headers: token === undefined ? {} : { authorization: token },
    body: new Uint8Array(body),
  });

/** The log's size and the stored blobs: what a refused write must leave alone. */
async function stored() {
  return {
    size: origin.registry.appender.size,
    blobs: (await readdir(join(origin.treeDir, "blob", "sha256"))).sort(),
  };
}

/** Asserts crates.io's error shape, the status and the code, and that nothing was written. */
async function refused(res: Response, status: number, code: string, before: unknown) {
  const body = (await res.json()) as { errors: { detail: string; code: string }[] };
  assert.equal(res.status, status, JSON.stringify(body));
  assert.equal(body.errors.length, 1);
  assert.equal(typeof body.errors[0].detail, "string");
  assert.equal(body.errors[0].code, code, body.errors[0].detail);
  assert.deepEqual(await stored(), before);
  return body.errors[0].detail;
}

const WARNINGS = { warnings: { invalid_categories: [], invalid_badges: [], other: [] } };

test("a publish answers as crates.io does; the index line's cksum is the SHA-256 of the .crate served at dl", async () => {
  const crate = { name: "tiny_crate", version: "0.1.0" };
  const res = await put(madeCrateBody(crate), alice);
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), WARNINGS);
  const sha256 = createHash("sha256").update(crateFile(crate)).digest("hex");
  const line = JSON.parse(
    await (
      await fetch(new URL(`${CARGO_INDEX_PREFIX.slice(1)}ti/ny/tiny_crate`, origin.url))
    ).text(),
  );
  assert.equal(line.cksum, sha256);
  assert.equal(line.vers, "0.1.0");
  const config = await (
    await fetch(new URL(`${CARGO_INDEX_PREFIX.slice(1)}config.json`, origin.url))
  ).json();
  const dl = (config as { dl: string }).dl.replace("{sha256-checksum}", sha256);
  const downloaded = Buffer.from(await (await fetch(dl)).arrayBuffer());
  assert.equal(createHash("sha256").update(downloaded).digest("hex"), sha256);
  assert.deepEqual(origin.registry.state.table("cargo").owners("tiny_crate"), ["alice"]);
});

describe("publish refusals change nothing", () => {
  const tiny = (version: string, extra: object = {}) =>
    madeCrateBody({ name: "tiny_crate", version, ...extra });
  const cases: [string, () => Buffer, string | undefined, number, string][] = [
    ["no token", () => tiny("0.2.0"), undefined, 403, "unauthorized"],
    ["an unknown token", () => tiny("0.2.0"), "not-a-token", 403, "unauthorized"],
    [
      "the name in another case",
      () => madeCrateBody({ name: "Tiny_Crate", version: "9.0.0" }),
      "alice",
      409,
      "name-taken",
    ],
    [
      "the name with - for _",
      () => madeCrateBody({ name: "tiny-crate", version: "9.0.0" }),
      "bob",
      409,
      "name-taken",
    ],
    ["a version published before", () => tiny("0.1.0"), "alice", 409, "version-exists"],
    ["that version with build metadata", () => tiny("0.1.0+extra"), "alice", 409, "version-exists"],
    ["a version by someone not an owner", () => tiny("0.2.0"), "bob", 403, "forbidden"],
    [
      "a dependency the registry does not have",
      () => madeCrateBody({ name: "needs_nothing", version: "1.0.0", deps: [["nope", "^1"]] }),
      "alice",
      400,
      "unknown-dependency",
    ],
    [
      "a dependency spelled otherwise than published",
      () => madeCrateBody({ name: "needs_tiny", version: "1.0.0", deps: [["Tiny-Crate", "^0.1"]] }),
      "alice",
      400,
      "unknown-dependency",
    ],
    [
      "a reserved name",
      () => madeCrateBody({ name: "std", version: "1.0.0" }),
      "alice",
      400,
      "reserved-name",
    ],
    [
      "a name starting with a digit",
      () => madeCrateBody({ name: "1up", version: "1.0.0" }),
      "alice",
      400,
      "bad-name",
    ],
    ["a version that is not semver", () => tiny("1.0"), "alice", 400, "bad-version"],
    [
      "a .crate that is not gzip",
      () =>
        cratePublishBody(
          crateMetadata({ name: "tiny_crate", version: "0.3.0" }),
          Buffer.from("not gzip"),
        ),
      "alice",
      400,
      "not-gzip",
    ],
    [
      "a .crate whose files are not under <name>-<version>/",
      () =>
        cratePublishBody(
          crateMetadata({ name: "tiny_crate", version: "0.3.0" }),
          crateFile({ name: "tiny_crate", version: "0.3.1" }),
        ),
      "alice",
      400,
      "unsafe-path",
    ],
    [
      "a .crate whose Cargo.toml names another version",
      () =>
        cratePublishBody(
          crateMetadata({ name: "tiny_crate", version: "0.3.0" }),
          rawTgz([
            {
              name: "tiny_crate-0.3.0/Cargo.toml",
              data: '[package]\nname = "tiny_crate"\nversion = "0.3.1"\n',
            },
          ]),
        ),
      "alice",
      400,
      "bad-manifest",
    ],
    ["a body of three bytes", () => Buffer.from([1, 0, 0]), "alice", 400, "bad-body"],
    [
      "a JSON length over 1 MiB",
      () => Buffer.from([0, 0, 0x20, 0, 1, 2, 3, 4]),
      "alice",
      413,
      "too-large",
    ],
    [
      "a .crate length over 10 MiB",
      () => {
        const body = tiny("0.3.0");
        const jsonLength = body.readUInt32LE(0);
        body.writeUInt32LE(11 * 1024 * 1024, 4 + jsonLength);
        return body;
      },
      "alice",
      413,
      "too-large",
    ],
    [
      "a .crate length longer than the body",
      () => {
        const body = tiny("0.3.0");
        const jsonLength = body.readUInt32LE(0);
        body.writeUInt32LE(body.readUInt32LE(4 + jsonLength) + 1, 4 + jsonLength);
        return body;
      },
      "alice",
      400,
      "bad-body",
    ],
    [
      "bytes after the .crate",
      () => Buffer.concat([tiny("0.3.0"), Buffer.from("x")]),
      "alice",
      400,
      "bad-body",
    ],
    [
      "metadata that is not JSON",
      () => cratePublishBody("{not json", crateFile({ name: "tiny_crate", version: "0.3.0" })),
      "alice",
      400,
      "bad-body",
    ],
  ];
  for (const [what, body, who, status, code] of cases)
    test(what, async () => {
      const before = await stored();
      const token = who === "alice" ? alice : who === "bob" ? bob : who;
      const detail = await refused(await put(body(), token), status, code, before);
      if (code === "name-taken") assert.match(detail, /`tiny_crate`/);
    });
});

/** Sends `head` and `chunks` by hand, so a body can lie about its length or stop short. */
function rawPut(
  headers: Record<string, string>,
  chunks: readonly Uint8Array[],
  end: "end" | "abort",
): Promise<{ status?: number; body?: string }> {
  return new Promise((resolve, reject) => {
    const req = request(api("crates/new"), {
      method: "PUT",
      headers: { authorization: alice, ...headers },
    });
    req.on("response", (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => {
        body += c;
      });
      res.on("end", () => resolve({ status: res.statusCode, body }));
    });
    req.on("error", (err) => (end === "abort" ? resolve({}) : reject(err)));
    for (const chunk of chunks) req.write(chunk);
    if (end === "end") req.end();
    else req.socket?.destroy() ?? req.on("socket", (s) => s.destroy());
  });
}

test("a version and the same version with build metadata sent at once: exactly one lands", async () => {
  const [plain, built] = await Promise.all([
    put(madeCrateBody({ name: "raced", version: "1.0.0" }), alice),
    put(madeCrateBody({ name: "raced", version: "1.0.0+build" }), alice),
  ]);
  assert.deepEqual([plain.status, built.status].sort(), [200, 409]);
  assert.equal(origin.registry.state.table("cargo").versions("raced").length, 1);
});

describe("bodies that lie about their length", () => {
  test("a Content-Length over the cap is refused before the body is read", async () => {
    const before = await stored();
    const res = await rawPut(
      { "content-length": String(12 * 1024 * 1024) },
      [Buffer.alloc(10)],
      "abort",
    );
    // The answer may or may not reach a client that stops sending; nothing is written either way.
    if (res.status !== undefined) {
      assert.equal(res.status, 413);
      assert.match(res.body ?? "", /"code":"too-large"/);
    }
    assert.deepEqual(await stored(), before);
  });

  test("a chunked body that grows past the cap is refused at the cap", async () => {
    const before = await stored();
    const mib = Buffer.alloc(1024 * 1024);
    const res = await rawPut({ "transfer-encoding": "chunked" }, Array(12).fill(mib), "end").catch(
      () => ({ status: undefined, body: undefined }),
    );
    if (res.status !== undefined) {
      assert.equal(res.status, 413);
      assert.match(res.body ?? "", /"code":"too-large"/);
    }
    assert.deepEqual(await stored(), before);
  });

  test("a body that ends before its Content-Length changes nothing", async () => {
    const before = await stored();
    const body = madeCrateBody({ name: "cut_short", version: "1.0.0" });
    await rawPut({ "content-length": String(body.length) }, [body.subarray(0, 100)], "abort");
    // The server is still whole, and a complete publish goes through after it.
    assert.deepEqual(await stored(), before);
    assert.equal((await put(body, alice)).status, 200);
  });
});

describe("yank, owners and search over HTTP", () => {
  test("yank and unyank need an owner and a version that exists", async () => {
    const yank = (name: string, version: string, token?: string) =>
      fetch(api(`crates/${name}/${version}/yank`), {
        method: "DELETE",
        headers: token ? { authorization: token } : {},
      });
    let before = await stored();
    await refused(await yank("tiny_crate", "0.1.0"), 403, "unauthorized", before);
    await refused(await yank("tiny_crate", "0.1.0", bob), 403, "forbidden", before);
    await refused(await yank("tiny_crate", "7.0.0", alice), 404, "not-found", before);
    await refused(await yank("no_such_crate", "1.0.0", alice), 404, "not-found", before);
    const res = await yank("Tiny-Crate", "0.1.0", alice);
    assert.deepEqual(await res.json(), { ok: true });
    assert.equal(origin.registry.appender.size, before.size + 2, "the yank and its snapshot");
    // Yanking a yanked version again succeeds and logs nothing, as on crates.io.
    before = await stored();
    assert.deepEqual(await (await yank("tiny_crate", "0.1.0", alice)).json(), { ok: true });
    assert.deepEqual(await stored(), before);
    const unyank = await fetch(api("crates/tiny_crate/0.1.0/unyank"), {
      method: "PUT",
      // A token pasted as "Bearer <token>" (as some registries tell users to) works too.
      headers: { authorization: `Bearer ${alice}`, "content-type": "application/json" },
    });
    assert.deepEqual(await unyank.json(), { ok: true });
    assert.equal(
      origin.registry.state.table("cargo").version("tiny_crate", "0.1.0")?.yanked,
      undefined,
    );
  });

  test("two yanks of one version at once log one yank, as one yank would", async () => {
    const before = await stored();
    const yanks = await Promise.all(
      ["tiny_crate", "Tiny-Crate", "tiny-crate"].map((name) =>
        fetch(api(`crates/${name}/0.1.0/yank`), {
          method: "DELETE",
          headers: { authorization: alice },
        }),
      ),
    );
    for (const res of yanks) assert.deepEqual(await res.json(), { ok: true });
    assert.equal(origin.registry.appender.size, before.size + 2, "one yank and its snapshot");
    const unyank = await fetch(api("crates/tiny_crate/0.1.0/unyank"), {
      method: "PUT",
      headers: { authorization: alice },
    });
    assert.deepEqual(await unyank.json(), { ok: true });
  });

  test("a publish to someone else's crate is refused before its .crate is opened", async () => {
    const before = await stored();
    // Not even gzip: had the .crate been read first, this would be a 400 for its bytes.
    const body = cratePublishBody(
      crateMetadata({ name: "tiny_crate", version: "9.0.0" }),
      Buffer.from("junk"),
    );
    await refused(await put(body, bob), 403, "forbidden", before);
    await refused(await put(body, alice), 400, "not-gzip", before);
  });

  test("owners: unknown users and malformed bodies are refused", async () => {
    const owners = (method: string, body: string, token = alice) =>
      fetch(api("crates/tiny_crate/owners"), {
        method,
        headers: { authorization: token, "content-type": "application/json" },
        body,
      });
    const before = await stored();
    await refused(await owners("PUT", '{"users":["nobody"]}'), 404, "not-found", before);
    await refused(await owners("PUT", '{"users":"bob"}'), 400, "bad-request", before);
    await refused(await owners("PUT", "not json"), 400, "bad-request", before);
    // Read as strictly as every other body: a lone surrogate, __proto__, or nesting past the shape.
    await refused(await owners("PUT", '{"users":["\\ud800"]}'), 400, "bad-request", before);
    await refused(
      await owners("PUT", '{"__proto__":{},"users":["bob"]}'),
      400,
      "bad-request",
      before,
    );
    await refused(await owners("PUT", '{"users":[["bob"]]}'), 400, "bad-request", before);
    await refused(await owners("PUT", '{"users":["bob"]}', bob), 403, "forbidden", before);
    await refused(await owners("DELETE", '{"users":["alice"]}'), 400, "invalid", before);
    const list = await (await fetch(api("crates/tiny_crate/owners"))).json();
    assert.deepEqual(list, { users: [{ id: 1, login: "alice", name: null }] });
  });

  test("search finds crates by a name with - as well as _, and caps per_page at 100", async () => {
    assert.equal(
      (await put(madeCrateBody({ name: "dash-name", version: "1.2.0" }), alice)).status,
      200,
    );
    const search = async (q: string, perPage = 10) =>
      (await (
        await fetch(api(`crates?q=${encodeURIComponent(q)}&per_page=${perPage}`))
      ).json()) as {
        crates: { name: string; max_version: string; description: string | null }[];
        meta: { total: number };
      };
    const found = await search("dash-name");
    assert.deepEqual(found.crates[0], {
      name: "dash-name",
      max_version: "1.2.0",
      description: "the dash-name crate",
    });
    assert.equal((await search("tiny", 1000)).crates[0].name, "tiny_crate");
    assert.deepEqual(await search(""), { crates: [], meta: { total: 0 } });
  });

  test("a crate named with - has its search document under its key name, where dependents are counted", async () => {
    const { search } = origin.registry.state.table("cargo");
    assert.equal(search.popularityOf("dash_name"), searchPopularity(0, 1));
  });
});
