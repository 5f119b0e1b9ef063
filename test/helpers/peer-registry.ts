/**
 * A registry for LAN peer tests, published to a running origin over HTTP:
 * a few dozen packages with real tarballs (files of text no compressor
 * shrinks much, some depending on others), one tarball over 1 MiB so it is
 * also a UnixFS DAG, and one package for each case a peer must not share:
 * an old version of a package whose latest is newer (and nobody downloads,
 * so it is not popular) and a package that opted out with
 * `"cairn": {"share": false}`. The app depends on all of them.
 */
import assert from "node:assert/strict";
import { keystreamBytes } from "./keystream.ts";
import { noiseText } from "./noise-text.ts";
import { publishBody } from "./publish-body.ts";
import { putJson, signUp } from "./registry-client.ts";
import { packageJson, type RawTarEntry, rawTgz } from "./tar.ts";

/** Plain packages `lan-pkg-00` … (each latest, so shareable). */
export const PLAIN_COUNT = 60;
export const BIG = { name: "lan-big", version: "1.0.0" } as const;
/** The app holds 1.0.0; 1.1.0, in the same release line, is the latest. */
export const OLD = { name: "lan-old", version: "1.0.0", latest: "1.1.0" } as const;
export const OPTED_OUT = { name: "lan-private", version: "1.0.0" } as const;
/** Over 1 MiB of incompressible bytes: the tarball is chunked into a DAG. */
const BIG_FILE_BYTES = 1_600_000;

export const plainName = (i: number) => `lan-pkg-${String(i).padStart(2, "0")}`;

/** The app's package.json: every package of the registry. */
export function peerApp(): { name: string; version: string; dependencies: Record<string, string> } {
  const dependencies: Record<string, string> = {};
  for (let i = 0; i < PLAIN_COUNT; i++) dependencies[plainName(i)] = "^1.0.0";
  dependencies[BIG.name] = BIG.version;
  dependencies[OLD.name] = OLD.version;
  dependencies[OPTED_OUT.name] = OPTED_OUT.version;
  return { name: "lan-app", version: "1.0.0", dependencies };
}

async function publishPackage(
  url: string,
  token: string,
  manifest: { name: string; version: string } & Record<string, unknown>,
  files: RawTarEntry[],
): Promise<void> {
  const { name, version, ...extra } = manifest;
  const tgz = rawTgz([packageJson(name, version, extra), ...files]);
  const res = await putJson(url, `/${name}`, token, publishBody(manifest, tgz));
  assert.equal(res.status, 201, `publishing ${name}@${version}: ${await res.text()}`);
}

const sourceOf = (name: string, seed: number): RawTarEntry => ({
  name: "package/index.js",
  data: `module.exports = ${JSON.stringify(`${name} ${seed}`)};\n`,
});

/** Publishes the whole registry to the origin at `url`. */
export async function publishPeerRegistry(url: string): Promise<void> {
  const token = await signUp(url, "peers", "peers-password");
  for (let i = 0; i < PLAIN_COUNT; i++) {
    const name = plainName(i);
    // Every fifth depends on the next, so the tree is not only direct dependencies.
    const dependencies = i % 5 === 0 && i + 1 < PLAIN_COUNT ? { [plainName(i + 1)]: "^1.0.0" } : {};
    await publishPackage(url, token, { name, version: "1.0.0", dependencies }, [
      sourceOf(name, i),
      { name: "package/data.txt", data: noiseText(i + 1, 8_000 + ((i * 7_919) % 40_000)) },
    ]);
  }
  await publishPackage(url, token, { ...BIG }, [
    sourceOf(BIG.name, 100),
    { name: "package/blob.bin", data: keystreamBytes("lan-big", BIG_FILE_BYTES) },
  ]);
  // No file in common, so nothing of the old version is shareable through the latest.
  for (const [seed, version] of [OLD.version, OLD.latest].entries())
    await publishPackage(url, token, { name: OLD.name, version }, [
      sourceOf(OLD.name, 200 + seed),
      { name: "package/data.txt", data: noiseText(200 + seed, 20_000) },
    ]);
  await publishPackage(url, token, { ...OPTED_OUT, cairn: { share: false } }, [
    sourceOf(OPTED_OUT.name, 300),
    { name: "package/data.txt", data: noiseText(300, 20_000) },
  ]);
}
