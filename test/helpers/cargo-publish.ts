/**
 * The real `cargo publish` against a throwaway sparse registry on loopback,
 * to capture the exact bodies cargo sends: the server answers `config.json`
 * (with `api`), the index files it is given (404 for the rest: cargo also
 * probes other `-`/`_` spellings), and `PUT /api/v1/crates/new`, whose body
 * it records and hands to `onPublish` for the index line that makes the new
 * version visible (cargo waits up to 60 s for it otherwise). Each run gets
 * its own CARGO_HOME, so nothing reaches the network or a user's config.
 */
import { execFile } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { homedir } from "node:os";
import { join } from "node:path";
import { type FeatureMap, indexLine } from "../../src/cargo/rules/index-line.ts";
import { indexPath } from "../../src/cargo/rules/index-path.ts";
import { parsePublishBody } from "../../src/cargo/rules/publish-body.ts";
import { sha256Hex } from "../../src/util/sha256.ts";
import { listenOnLoopback } from "./loopback.ts";

export type PublishAnswer =
  | { readonly path: string; readonly line: string }
  | { readonly status: number; readonly detail: string };

export interface FakeSparseRegistry {
  /** `http://127.0.0.1:PORT/` */
  readonly url: string;
  /** Index files by path (`se/rd/serde`), each line followed by "\n". */
  readonly files: Map<string, string>;
  /** Every publish body received, in order. */
  readonly bodies: Buffer[];
  close(): Promise<void>;
}

export const REGISTRY_NAME = "x";

export async function startFakeSparseRegistry(
  files: Map<string, string>,
  onPublish: (body: Buffer) => PublishAnswer,
): Promise<FakeSparseRegistry> {
  const bodies: Buffer[] = [];
  let base = "";
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const path = new URL(req.url ?? "/", base).pathname;
    const json = (status: number, value: unknown) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(value));
    };
    if (req.method === "GET" && path === "/index/config.json")
      return json(200, { dl: `${base}dl/{crate}/{version}`, api: base.slice(0, -1) });
    if (req.method === "GET" && path.startsWith("/index/")) {
      const file = files.get(path.slice("/index/".length));
      if (file === undefined) return json(404, { errors: [{ detail: "not found" }] });
      res.writeHead(200, { "content-type": "text/plain" });
      return res.end(file);
    }
    if (req.method === "PUT" && path === "/api/v1/crates/new") {
      const body = Buffer.concat(chunks);
      bodies.push(body);
      const answer = onPublish(body);
      if ("status" in answer) return json(answer.status, { errors: [{ detail: answer.detail }] });
      files.set(answer.path, `${files.get(answer.path) ?? ""}${answer.line}\n`);
      return json(200, { warnings: { invalid_categories: [], invalid_badges: [], other: [] } });
    }
    json(404, { errors: [{ detail: `no route for ${req.method} ${path}` }] });
  };
  const server = createServer((req, res) => {
    handle(req, res).catch((err: Error) => {
      res.writeHead(500);
      res.end(err.message);
    });
  });
  const { url, close } = await listenOnLoopback(server);
  base = url;
  return { url, files, bodies, close };
}

export interface CargoResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `cargo publish --no-verify --allow-dirty` in `crateDir` with a CARGO_HOME under `scratch`. */
export function cargoPublish(
  crateDir: string,
  registry: FakeSparseRegistry,
  scratch: string,
): Promise<CargoResult> {
  return runCargo(
    ["publish", "--registry", REGISTRY_NAME, "--no-verify", "--allow-dirty"],
    crateDir,
    registry,
    scratch,
  );
}

/** Runs cargo with `args` in `dir`, its CARGO_HOME under `scratch` pointing at `registry` (also for crates.io). */
export async function runCargo(
  args: readonly string[],
  dir: string,
  registry: FakeSparseRegistry,
  scratch: string,
): Promise<CargoResult> {
  const cargoHome = join(scratch, "cargo-home");
  await mkdir(cargoHome, { recursive: true });
  await writeFile(
    join(cargoHome, "config.toml"),
    [
      `[registries.${REGISTRY_NAME}]`,
      `index = "sparse+${registry.url}index/"`,
      "[source.crates-io]",
      `replace-with = "${REGISTRY_NAME}"`,
      "[net]",
      "retry = 0",
      "[http]",
      "timeout = 30",
      "",
    ].join("\n"),
  );
  const env = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    RUSTUP_HOME: process.env.RUSTUP_HOME ?? join(homedir(), ".rustup"),
    CARGO_HOME: cargoHome,
    CARGO_TARGET_DIR: join(scratch, "target"),
    CARGO_TERM_COLOR: "never",
    [`CARGO_REGISTRIES_${REGISTRY_NAME.toUpperCase()}_TOKEN`]: "probe-token",
  };
  return new Promise((resolve) => {
    execFile(
      "cargo",
      args,
      { cwd: dir, env, maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === "number" ? err.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

async function writeFiles(dir: string, files: Record<string, string>): Promise<void> {
  for (const [path, text] of Object.entries(files)) {
    await mkdir(join(dir, path, ".."), { recursive: true });
    await writeFile(join(dir, path), text);
  }
}

/** The crates the probes depend on, which must be in the fake index: name → versions → features. */
export const PROBE_DEPENDENCIES: Record<
  string,
  { version: string; features: Record<string, string[]> }
> = {
  "real-dep": { version: "1.2.5", features: { zz: [] } },
  plain: { version: "0.3.1", features: { extra: [], default: [] } },
  local: { version: "0.1.0", features: {} },
  unixy: { version: "1.0.0", features: {} },
  builder: { version: "2.0.0", features: {} },
  devy: { version: "1.1.0", features: {} },
  libc: { version: "0.2.150", features: {} },
};

/**
 * Two crates to publish: `probe-full` mixes a renamed optional dependency,
 * `dep:`/`?/` features and a feature naming one of them, a path dependency
 * that publishes as a registry one, target, build and dev dependencies, a
 * dependency from crates.io (replaced by this registry), `links`,
 * `rust-version`, keywords and a build-metadata version; `probe_min` has
 * nothing but what crates.io requires.
 */
export async function writeProbeCrates(dir: string): Promise<{ full: string; min: string }> {
  const full = join(dir, "probe-full");
  const min = join(dir, "probe_min");
  await writeFiles(full, {
    "Cargo.toml": `[package]
name = "probe-full"
version = "0.1.0-rc.1+build.5"
edition = "2021"
description = "A crate that exercises every publish field"
license = "MIT OR Apache-2.0"
keywords = ["probe", "cairn"]
categories = ["development-tools"]
homepage = "https://example.org/probe"
links = "probe"
rust-version = "1.70"
build = "build.rs"

[dependencies]
dep1 = { package = "real-dep", version = "1.2", optional = true, registry = "${REGISTRY_NAME}" }
plain = { version = "0.3", registry = "${REGISTRY_NAME}", default-features = false, features = ["extra"] }
local = { path = "local", version = "0.1.0", registry = "${REGISTRY_NAME}" }
libc = "0.2"

[target.'cfg(unix)'.dependencies]
unixy = { version = "1", registry = "${REGISTRY_NAME}" }

[build-dependencies]
builder = { version = "=2.0.0", registry = "${REGISTRY_NAME}" }

[dev-dependencies]
devy = { version = ">=1.1, <2", registry = "${REGISTRY_NAME}" }

[features]
default = ["plain/extra"]
fx = ["dep:dep1", "dep1?/zz"]
chain = ["fx"]
plainer = []
`,
    "build.rs": "fn main() {}\n",
    "src/lib.rs": "pub fn probe() {}\n",
    "local/Cargo.toml": `[package]\nname = "local"\nversion = "0.1.0"\nedition = "2021"\n`,
    "local/src/lib.rs": "",
  });
  await writeFiles(min, {
    "Cargo.toml": `[package]
name = "probe_min"
version = "2.0.0"
edition = "2021"
description = "m"
license-file = "LICENSE"
`,
    LICENSE: "no license\n",
    "src/lib.rs": "",
  });
  return { full, min };
}

/**
 * A fake registry holding the probes' dependencies (lines made by
 * `indexLine`, so cargo resolving them checks our lines too) that makes each
 * publish visible with the line `indexLine` makes from the parsed body.
 */
export function startProbeRegistry(): Promise<FakeSparseRegistry> {
  const files = new Map<string, string>();
  const add = (name: string, version: string, features: FeatureMap, yanked: boolean) => {
    const line = indexLine(
      name,
      version,
      { deps: [], features },
      sha256Hex(`${name}@${version}`),
      yanked,
    );
    files.set(indexPath(name), `${files.get(indexPath(name)) ?? ""}${line}\n`);
  };
  for (const [name, { version, features }] of Object.entries(PROBE_DEPENDENCIES))
    add(name, version, features, false);
  // A newer version, yanked: no resolution may pick it.
  add("plain", "0.3.9", PROBE_DEPENDENCIES.plain.features, true);
  return startFakeSparseRegistry(files, (body) => {
    try {
      const publish = parsePublishBody(body);
      const line = indexLine(
        publish.name,
        publish.version,
        publish.resolution,
        sha256Hex(publish.crate),
        false,
      );
      return { path: indexPath(publish.name), line };
    } catch (err) {
      return { status: 400, detail: (err as Error).message };
    }
  });
}
