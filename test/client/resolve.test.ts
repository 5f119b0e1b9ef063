import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";
import {
  fitsPlatform,
  type PackageLookup,
  type ResolvablePackage,
  type ResolveOptions,
  requestsOfPackageJson,
  resolve,
} from "../../src/client/resolve.ts";
import { CORPUS_APP_LOCKFILE, CORPUS_APP_PACKAGE_JSON } from "../helpers/corpus.ts";
import { corpusPackages, registryPackage } from "../helpers/corpus-packages.ts";

const pkg = registryPackage;

function registry(...packages: ResolvablePackage[]): PackageLookup {
  const byName = new Map(packages.map((p) => [p.name, p]));
  return (name) => byName.get(name);
}

const LINUX: ResolveOptions = { os: "linux", cpu: "x64", libc: "glibc" };

/** The key a lone request for `foo@spec` resolves to. */
function pickFoo(lookup: PackageLookup, spec: string): string | undefined {
  return resolve({ foo: spec }, lookup, LINUX).roots.foo;
}

describe("picking a version", () => {
  const foo = registry(
    pkg(
      "foo",
      { "1.0.0": {}, "1.2.0": {}, "1.5.0": {}, "2.0.0": {}, "2.1.0": {} },
      { latest: "1.2.0" },
    ),
  );

  test("versions in any order are ordered by semver, prereleases and numbers alike", () => {
    const versions = ["9.0.0", "10.0.0-rc.10", "10.0.0-rc.9", "10.0.0", "1.10.0", "1.9.0"];
    const mixed = registry(
      pkg("foo", Object.fromEntries(versions.map((v) => [v, {}])), { latest: "9.0.0" }),
    );
    assert.equal(pickFoo(mixed, ">=10.0.0-rc.0 <10.0.0"), "foo@10.0.0-rc.10");
    assert.equal(pickFoo(mixed, ">9"), "foo@10.0.0");
    assert.equal(pickFoo(mixed, "^1.0.0"), "foo@1.10.0");
    assert.equal(pickFoo(mixed, "<1.10.0"), "foo@1.9.0");
  });

  test("a range takes latest when latest satisfies it, else the highest that does", () => {
    assert.equal(pickFoo(foo, "^1.0.0"), "foo@1.2.0");
    assert.equal(pickFoo(foo, "^1.3.0"), "foo@1.5.0");
    assert.equal(pickFoo(foo, "2"), "foo@2.1.0");
    assert.equal(pickFoo(foo, ">=1.0.0 <1.2.0 || 1.5.x"), "foo@1.5.0");
  });

  test("* and an empty spec mean latest; an exact version means that version", () => {
    assert.equal(pickFoo(foo, "*"), "foo@1.2.0");
    assert.equal(pickFoo(foo, ""), "foo@1.2.0");
    assert.equal(pickFoo(foo, "1.0.0"), "foo@1.0.0");
    assert.equal(pickFoo(foo, "v1.5.0"), "foo@1.5.0");
    assert.equal(pickFoo(foo, "=2.0.0"), "foo@2.0.0");
  });

  test("a dist-tag picks exactly its version", () => {
    const tagged = registry(
      pkg(
        "foo",
        { "1.0.0": {}, "2.0.0-rc.1": {}, "1.1.0": {} },
        { next: "2.0.0-rc.1", old: "1.0.0", gone: "0.9.0" },
      ),
    );
    assert.equal(pickFoo(tagged, "next"), "foo@2.0.0-rc.1");
    assert.equal(pickFoo(tagged, "old"), "foo@1.0.0");
    assert.equal(pickFoo(tagged, "latest"), "foo@1.1.0");
    const missing = resolve({ foo: "beta" }, tagged, LINUX);
    assert.deepEqual(missing.problems, [
      { from: "", name: "foo", spec: "beta", reason: "foo has no dist-tag beta", optional: false },
    ]);
    assert.match(resolve({ foo: "gone" }, tagged, LINUX).problems[0].reason, /0\.9\.0, not live/);
  });

  test("prereleases only when the range names one on the same version", () => {
    const pre = registry(
      pkg("foo", { "1.0.0": {}, "1.1.0-beta.1": {}, "1.1.0-beta.2": {}, "2.0.0-alpha.1": {} }),
    );
    assert.equal(pickFoo(pre, "^1.0.0"), "foo@1.0.0");
    assert.equal(pickFoo(pre, "^1.1.0-beta.1"), "foo@1.1.0-beta.2");
    assert.equal(pickFoo(pre, "1.1.0-beta.1"), "foo@1.1.0-beta.1");
    assert.equal(pickFoo(pre, ">1.0.0"), undefined);
    assert.equal(pickFoo(pre, "^2.0.0-alpha.0"), "foo@2.0.0-alpha.1");
    // A prerelease `latest` is taken for * (npm-pick-manifest skips the range test there), not for a range.
    const preLatest = registry(
      pkg("foo", { "1.0.0": {}, "1.1.0-rc.1": {} }, { latest: "1.1.0-rc.1" }),
    );
    assert.equal(pickFoo(preLatest, "*"), "foo@1.1.0-rc.1");
    assert.equal(pickFoo(preLatest, "^1.0.0"), "foo@1.0.0");
  });

  test("deprecated versions are avoided, and used only when nothing else satisfies", () => {
    const dep = registry(
      pkg(
        "foo",
        {
          "1.0.0": {},
          "1.1.0": { deprecated: "broken" },
          "1.2.0": { deprecated: "broken too" },
          "2.0.0": { deprecated: "use 3" },
          "3.0.0": {},
        },
        { latest: "1.2.0" },
      ),
    );
    assert.equal(pickFoo(dep, "^1.0.0"), "foo@1.0.0");
    assert.equal(pickFoo(dep, "*"), "foo@3.0.0");
    assert.equal(pickFoo(dep, "^2.0.0"), "foo@2.0.0");
    assert.equal(pickFoo(dep, "1.1.0"), "foo@1.1.0");
    const used = resolve({ foo: "^2.0.0" }, dep, LINUX);
    assert.equal(used.nodes.get("foo@2.0.0")?.deprecated, "use 3");
    assert.deepEqual(used.problems, []);
  });

  test("engines.node that does not match is not a reason to skip a version", () => {
    const engines = registry(pkg("foo", { "1.0.0": {}, "1.1.0": { engines: { node: ">=99" } } }));
    assert.equal(pickFoo(engines, "^1.0.0"), "foo@1.1.0");
  });

  test("a missing package or an unsatisfiable range is a problem, and the rest still resolves", () => {
    const lookup = registry(
      pkg("foo", { "2.1.0": {}, "1.0.0": {} }),
      pkg("app", { "1.0.0": { dependencies: { ghost: "^1.0.0", foo: "^9.0.0" } } }),
    );
    const r = resolve({ app: "1", foo: "^1.0.0" }, lookup, LINUX);
    assert.deepEqual([...r.nodes.keys()], ["app@1.0.0", "foo@1.0.0"]);
    assert.deepEqual(r.problems, [
      {
        from: "app@1.0.0",
        name: "foo",
        spec: "^9.0.0",
        reason: "no version of foo satisfies ^9.0.0 (latest is 2.1.0)",
        optional: false,
      },
      {
        from: "app@1.0.0",
        name: "ghost",
        spec: "^1.0.0",
        reason: "no package named ghost",
        optional: false,
      },
    ]);
    assert.deepEqual(r.nodes.get("app@1.0.0")?.dependencies, {});
  });
});

describe("specs a registry cannot serve", () => {
  const lookup = registry(pkg("foo", { "1.0.0": {} }));
  const cases: [string, RegExp][] = [
    ["git+https://github.com/a/foo.git", /a git dependency/],
    ["git://github.com/a/foo.git#v1", /a git dependency/],
    ["github:a/foo", /a git dependency/],
    ["a/foo#main", /GitHub shorthand/],
    ["file:../foo", /a local path/],
    ["./vendor/foo", /a local path/],
    ["../foo.tgz", /a local path/],
    ["https://example.com/foo-1.0.0.tgz", /a remote tarball/],
    ["workspace:*", /protocol/],
    ["link:../foo", /protocol/],
    ["npm:foo@git+https://github.com/a/foo.git", /not an alias of a registry package/],
    ["npm:", /not an alias/],
    ["next release", /not a version, range or dist-tag/],
    // encodeURIComponent throws on a lone surrogate: the resolver crashed with a URIError.
    ["next\udc00", /not a version, range or dist-tag/],
  ];
  for (const [spec, reason] of cases) {
    test(`${spec} is a problem with a reason, not a crash`, () => {
      const r = resolve({ foo: spec }, lookup, LINUX);
      assert.equal(r.nodes.size, 0);
      assert.equal(r.problems.length, 1);
      assert.match(r.problems[0].reason, reason);
      assert.equal(r.problems[0].spec, spec);
    });
  }
});

describe("aliases", () => {
  test("npm:name@range resolves the real package; the alias name stays the dependency's name", () => {
    const lookup = registry(
      pkg("string-width", { "4.2.3": {}, "5.1.2": {} }),
      pkg("@scope/real", { "1.0.0": {}, "1.1.0": {} }),
      pkg("app", {
        "1.0.0": {
          dependencies: { "string-width": "^5.1.2", "string-width-cjs": "npm:string-width@^4.2.0" },
        },
      }),
    );
    const r = resolve(
      { app: "1.0.0", fake: "npm:@scope/real@~1.0.0", bare: "npm:@scope/real" },
      lookup,
      LINUX,
    );
    assert.deepEqual(r.roots, {
      app: "app@1.0.0",
      bare: "@scope/real@1.1.0",
      fake: "@scope/real@1.0.0",
    });
    assert.deepEqual(r.nodes.get("app@1.0.0")?.dependencies, {
      "string-width": "string-width@5.1.2",
      "string-width-cjs": "string-width@4.2.3",
    });
    assert.equal(r.nodes.get("string-width@4.2.3")?.name, "string-width");
    assert.equal(r.nodes.has("string-width-cjs@4.2.3"), false);
  });
});

describe("dedupe", () => {
  const lookup = registry(
    pkg("shared", { "1.0.0": {}, "1.1.0": {}, "1.2.0": {}, "2.0.0": {} }),
    pkg("a", { "1.0.0": { dependencies: { shared: "~1.1.0" } } }),
    pkg("b", { "1.0.0": { dependencies: { shared: "^1.0.0" } } }),
    pkg("c", { "1.0.0": { dependencies: { shared: "^2.0.0", b: "*" } } }),
  );

  test("a version already in the graph that satisfies is reused instead of latest", () => {
    const r = resolve({ a: "1", b: "1" }, lookup, LINUX);
    assert.deepEqual([...r.nodes.keys()], ["a@1.0.0", "b@1.0.0", "shared@1.1.0"]);
    assert.equal(r.nodes.get("b@1.0.0")?.dependencies.shared, "shared@1.1.0");
  });

  test("otherwise a second version is picked; later edges reuse the highest that satisfies", () => {
    const r = resolve({ a: "1", c: "1", shared: "1.0.0" }, lookup, LINUX);
    assert.deepEqual(
      [...r.nodes.keys()],
      ["a@1.0.0", "b@1.0.0", "c@1.0.0", "shared@1.0.0", "shared@1.1.0", "shared@2.0.0"],
    );
    assert.equal(r.nodes.get("c@1.0.0")?.dependencies.shared, "shared@2.0.0");
    assert.equal(r.nodes.get("b@1.0.0")?.dependencies.shared, "shared@1.1.0");
  });

  test("shallower edges resolve first, names in order, whatever the order of the requests", () => {
    const r = resolve({ b: "1", a: "1", shared: "^1.0.0" }, lookup, LINUX);
    assert.deepEqual([...r.nodes.keys()], ["a@1.0.0", "b@1.0.0", "shared@1.1.0", "shared@1.2.0"]);
    assert.equal(r.nodes.get("b@1.0.0")?.dependencies.shared, "shared@1.2.0");
    assert.deepEqual(resolve({ shared: "^1.0.0", a: "1", b: "1" }, lookup, LINUX), r);
  });
});

describe("optional dependencies", () => {
  const lookup = registry(
    pkg("native-darwin", { "1.0.0": { os: ["darwin"], cpu: ["arm64"] } }),
    pkg("native-linux", { "1.0.0": { os: "linux", cpu: ["x64"], libc: ["glibc"] } }),
    pkg("native-musl", { "1.0.0": { os: ["linux"], libc: ["musl"] } }),
    pkg("not-windows", { "1.0.0": { os: ["!win32"] } }),
    pkg("helper", { "1.0.0": {} }),
    pkg("tool", {
      "1.0.0": {
        dependencies: { "not-windows": "1", helper: "1" },
        optionalDependencies: {
          "native-darwin": "1",
          "native-linux": "1",
          "native-musl": "1",
          "native-gone": "1",
          helper: "1",
        },
      },
    }),
  );

  test("ones that do not fit the platform or cannot resolve are dropped as optional problems", () => {
    const r = resolve({ tool: "1" }, lookup, LINUX);
    assert.deepEqual(
      [...r.nodes.keys()],
      ["helper@1.0.0", "native-linux@1.0.0", "not-windows@1.0.0", "tool@1.0.0"],
    );
    assert.deepEqual(
      r.problems.map((p) => [p.name, p.optional]),
      [
        ["native-darwin", true],
        ["native-gone", true],
        ["native-musl", true],
      ],
    );
    assert.match(r.problems[0].reason, /is for os darwin, cpu arm64, not linux x64 glibc/);
    assert.equal(r.nodes.get("native-linux@1.0.0")?.optional, true);
    assert.equal(r.nodes.get("not-windows@1.0.0")?.optional, false);
  });

  test("a name in both dependencies and optionalDependencies is optional", () => {
    const r = resolve({ tool: "1" }, lookup, LINUX);
    assert.equal(r.nodes.get("helper@1.0.0")?.optional, true);
    assert.equal(
      resolve({ tool: "1", helper: "1" }, lookup, LINUX).nodes.get("helper@1.0.0")?.optional,
      false,
    );
  });

  test("the platform decides: negations, libc, and an unknown libc", () => {
    const win = resolve({ tool: "1" }, lookup, { os: "win32", cpu: "x64" });
    assert.deepEqual([...win.nodes.keys()], ["helper@1.0.0", "not-windows@1.0.0", "tool@1.0.0"]);
    assert.deepEqual(
      win.problems.filter((p) => !p.optional).map((p) => p.name),
      ["not-windows"],
    );
    const darwin = resolve({ tool: "1" }, lookup, { os: "darwin", cpu: "arm64" });
    assert.ok(darwin.nodes.has("native-darwin@1.0.0"));
    const musl = resolve({ tool: "1" }, lookup, { os: "linux", cpu: "arm64", libc: "musl" });
    assert.ok(musl.nodes.has("native-musl@1.0.0"));
    assert.ok(!musl.nodes.has("native-linux@1.0.0"));
    assert.equal(fitsPlatform({ os: "linux", libc: "glibc" }, { os: "linux", cpu: "x64" }), false);
    assert.equal(fitsPlatform({ os: ["!win32", "!darwin"] }, { os: "linux", cpu: "x64" }), true);
    assert.equal(fitsPlatform({ os: ["linux", "!linux"] }, { os: "linux", cpu: "x64" }), false);
    assert.equal(fitsPlatform({ cpu: "any" }, { os: "linux", cpu: "s390x" }), true);
    assert.equal(fitsPlatform({ cpu: [] }, { os: "linux", cpu: "x64" }), true);
  });

  test("a failure below an optional edge removes what only that optional dependency needed", () => {
    const deep = registry(
      pkg("watcher", { "1.0.0": { dependencies: { glue: "1", shared: "1" } } }),
      pkg("glue", { "1.0.0": { dependencies: { missing: "1", leaf: "1" } } }),
      pkg("leaf", { "1.0.0": {} }),
      pkg("shared", { "1.0.0": {} }),
      pkg("app", {
        "1.0.0": { dependencies: { shared: "1" }, optionalDependencies: { watcher: "1" } },
      }),
    );
    const r = resolve({ app: "1" }, deep, LINUX);
    assert.deepEqual([...r.nodes.keys()], ["app@1.0.0", "shared@1.0.0"]);
    assert.deepEqual(r.nodes.get("app@1.0.0")?.dependencies, { shared: "shared@1.0.0" });
    assert.deepEqual(r.problems, [
      {
        from: "glue@1.0.0",
        name: "missing",
        spec: "1",
        reason: "no package named missing",
        optional: true,
      },
    ]);
  });

  test("optional roots, and leaving optional dependencies out", () => {
    const { requests, optional } = requestsOfPackageJson({
      dependencies: { tool: "1", helper: "1" },
      optionalDependencies: { "native-gone": "1", helper: "1" },
    });
    const r = resolve(requests, lookup, { ...LINUX, optionalRoots: optional });
    const fromRoot = r.problems.filter((p) => p.from === "");
    assert.deepEqual(
      fromRoot.map((p) => [p.name, p.optional]),
      [["native-gone", true]],
    );
    assert.equal(r.nodes.get("helper@1.0.0")?.optional, true);
    const lean = resolve(requests, lookup, { ...LINUX, optionalRoots: optional, optional: false });
    assert.deepEqual([...lean.nodes.keys()], ["not-windows@1.0.0", "tool@1.0.0"]);
    assert.deepEqual(lean.problems, []);
  });
});

describe("peer dependencies", () => {
  const lookup = registry(
    pkg("react", { "17.0.2": {}, "18.2.0": {}, "18.3.1": {} }),
    pkg("react-dom", { "18.3.1": { peerDependencies: { react: "^18.3.1" } } }),
    pkg("plugin", {
      "1.0.0": {
        peerDependencies: { react: ">=17", typescript: "*", vue: "^3" },
        peerDependenciesMeta: { typescript: { optional: true }, vue: { optional: true } },
      },
    }),
    pkg("typescript", { "4.9.5": {}, "5.4.0": {} }),
    pkg("tooling", { "1.0.0": { dependencies: { typescript: "^4" } } }),
    pkg("vue", { "2.7.0": {}, "3.4.0": {} }),
    pkg("legacy", { "1.0.0": { dependencies: { vue: "2" } } }),
  );

  test("non-optional peers are installed; a node only peers reach is marked peer", () => {
    const r = resolve({ "react-dom": "^18" }, lookup, LINUX);
    assert.deepEqual([...r.nodes.keys()], ["react-dom@18.3.1", "react@18.3.1"]);
    assert.equal(r.nodes.get("react@18.3.1")?.peer, true);
    assert.equal(r.nodes.get("react-dom@18.3.1")?.dependencies.react, "react@18.3.1");
    assert.equal(
      resolve({ "react-dom": "^18", react: "18" }, lookup, LINUX).nodes.get("react@18.3.1")?.peer,
      false,
    );
  });

  test("a peer reuses a version already in the graph, and peers: false ignores peers", () => {
    const r = resolve({ plugin: "1", react: "17" }, lookup, LINUX);
    assert.deepEqual([...r.nodes.keys()], ["plugin@1.0.0", "react@17.0.2"]);
    assert.deepEqual(r.nodes.get("plugin@1.0.0")?.dependencies, { react: "react@17.0.2" });
    const off = resolve({ "react-dom": "^18" }, lookup, { ...LINUX, peers: false });
    assert.deepEqual([...off.nodes.keys()], ["react-dom@18.3.1"]);
  });

  test("optional peers link only to a name the graph resolves anyway, even found later", () => {
    const alone = resolve({ plugin: "1" }, lookup, LINUX);
    assert.deepEqual(alone.nodes.get("plugin@1.0.0")?.dependencies, { react: "react@18.3.1" });
    assert.deepEqual(alone.problems, []);
    // typescript enters the graph (through tooling) only after plugin's edges are walked;
    // vue@2 is there but does not satisfy ^3, so vue@3 is added for the optional peer.
    const r = resolve({ plugin: "1", tooling: "1", legacy: "1" }, lookup, LINUX);
    assert.deepEqual(r.nodes.get("plugin@1.0.0")?.dependencies, {
      react: "react@18.3.1",
      typescript: "typescript@4.9.5",
      vue: "vue@3.4.0",
    });
    assert.equal(r.nodes.get("vue@3.4.0")?.optional, true);
    assert.equal(r.nodes.get("vue@3.4.0")?.peer, true);
    assert.equal(r.nodes.get("typescript@4.9.5")?.optional, false);
  });
});

describe("bundled dependencies", () => {
  test("names in bundleDependencies ship in the tarball and are not resolved", () => {
    const lookup = registry(
      pkg("left", { "1.0.0": {} }),
      pkg("bundler", {
        "1.0.0": { dependencies: { inside: "^1", left: "1" }, bundleDependencies: ["inside"] },
      }),
      pkg("all-in", {
        "1.0.0": { dependencies: { inside: "^1", other: "2" }, bundledDependencies: true },
      }),
    );
    const r = resolve({ bundler: "1", "all-in": "1" }, lookup, LINUX);
    assert.deepEqual([...r.nodes.keys()], ["all-in@1.0.0", "bundler@1.0.0", "left@1.0.0"]);
    assert.deepEqual(r.nodes.get("bundler@1.0.0")?.dependencies, { left: "left@1.0.0" });
    assert.deepEqual(r.problems, []);
  });
});

test("requestsOfPackageJson reads dependencies, optionalDependencies, and devDependencies on request", () => {
  const manifest = {
    dependencies: { a: "^1", b: "^2" },
    optionalDependencies: { b: "^3", c: "1" },
    devDependencies: { d: "4", a: "^0.9" },
    peerDependencies: { e: "5" },
  };
  assert.deepEqual(requestsOfPackageJson(manifest), {
    requests: { a: "^1", b: "^3", c: "1" },
    optional: new Set(["b", "c"]),
  });
  assert.deepEqual(requestsOfPackageJson(manifest, { dev: true }).requests, {
    d: "4",
    a: "^1",
    b: "^3",
    c: "1",
  });
  assert.deepEqual(requestsOfPackageJson({ dependencies: "nope" }).requests, {});
});

/** The corpus as a registry: each tarball's package.json, `latest` the highest version present. */
async function corpusLookup(): Promise<PackageLookup> {
  const packages = await corpusPackages();
  return (name) => packages.get(name);
}

interface LockEntry {
  name?: string;
  version: string;
  optional?: boolean;
  peer?: boolean;
  os?: string[];
  cpu?: string[];
  libc?: string[];
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
}

test("the corpus app resolves to the packages of the lockfile npm wrote", async () => {
  const app = JSON.parse(readFileSync(CORPUS_APP_PACKAGE_JSON, "utf8"));
  const lock = JSON.parse(readFileSync(CORPUS_APP_LOCKFILE, "utf8"));
  const r = resolve(app.dependencies, await corpusLookup(), LINUX);

  const entries = new Map<string, LockEntry>(Object.entries(lock.packages));
  entries.delete("");
  const keyAt = (path: string) => {
    const e = entries.get(path) as LockEntry;
    return `${e.name ?? path.slice(path.lastIndexOf("node_modules/") + "node_modules/".length)}@${e.version}`;
  };
  // npm's lockfile lists every platform's optional packages; the lockfile's own os/cpu/libc say which apply.
  const fits = (e: LockEntry) =>
    [e.os, e.cpu, e.libc].every((list, i) => !list || list.includes(["linux", "x64", "glibc"][i]));
  const inLock = new Set([...entries.keys()].map(keyAt));
  const applicable = new Set([...entries].filter(([, e]) => fits(e)).map(([path]) => keyAt(path)));

  assert.deepEqual(
    [...applicable].filter((k) => !r.nodes.has(k)),
    [],
    "lockfile packages not resolved",
  );
  assert.deepEqual(
    [...r.nodes.keys()].filter((k) => !inLock.has(k)),
    [],
    "resolved but not in the lockfile",
  );
  assert.ok(r.nodes.size > 400);
  assert.deepEqual(
    r.problems.filter((p) => !p.optional),
    [],
  );

  // Stronger than the node set: each lockfile entry's flags, and the package each of its
  // dependencies finds by Node's node_modules lookup from where npm placed it, match the
  // logical graph. npm's hoisting places the same versions here, so no difference remains
  // except the edges to the other platforms' optional packages, which are dropped on purpose.
  // (With `latest` the highest version present, latest-vs-highest and reuse-vs-pick cannot
  // differ in this corpus; the small registries above cover those rules.)
  for (const [path, e] of entries) {
    const node = r.nodes.get(keyAt(path));
    if (!node) continue;
    assert.equal(node.optional, e.optional === true, `${path} optional`);
    assert.equal(node.peer, e.peer === true, `${path} peer`);
    const names = Object.keys({
      ...e.dependencies,
      ...e.optionalDependencies,
      ...e.peerDependencies,
    });
    for (const name of names) {
      const where = resolvedPath(entries, path, name);
      const found = entries.get(where);
      const expected = found && fits(found) ? keyAt(where) : undefined;
      assert.equal(node.dependencies[name], expected, `${path} -> ${name}`);
    }
  }
});

/** Where Node finds `name` from `path`, by the node_modules lookup. */
function resolvedPath(entries: ReadonlyMap<string, LockEntry>, path: string, name: string): string {
  for (let base = path; ; ) {
    const candidate = `${base ? `${base}/` : ""}node_modules/${name}`;
    if (entries.has(candidate) || !base) return candidate;
    const up = base.lastIndexOf("/node_modules/");
    base = up < 0 ? "" : base.slice(0, up);
  }
}
