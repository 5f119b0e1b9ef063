import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { Cosigner } from "../../src/log/index.ts";
import { ConfigError, checkConfig, loadConfig } from "../../src/origin/config.ts";
import { parseWitnessSetting } from "../../src/origin/witnesses.ts";
import { tempDir, testKey } from "../helpers/log.ts";

const vkey = Cosigner.generate("witness.example/w1").verifierKey;

test("--witness splits at the last '=': a URL may hold one, a verifier key never does", () => {
  assert.deepEqual(parseWitnessSetting(`http://w.example/sub?x=1=${vkey}`), {
    url: "http://w.example/sub?x=1",
    key: vkey,
  });
  assert.throws(() => parseWitnessSetting(vkey), ConfigError);
});

test("witness settings are checked: URLs, 0x04 keys, the quorum against the witnesses", async () => {
  for (const bad of [
    { witnesses: { "ftp://w.example/": vkey } },
    { witnesses: { "http://w.example/": testKey().verifierKey } },
    { witnesses: { "http://w.example/": `${vkey}x` } },
    { witnessQuorum: -1 },
    { witnessQuorum: 1.5 },
    { witnessTimeout: -2 },
  ]) {
    assert.throws(() => checkConfig(bad, "test"), ConfigError, JSON.stringify(bad));
  }
  await assert.rejects(
    loadConfig({ witnesses: { "http://w.example/": vkey }, witnessQuorum: 2 }),
    ConfigError,
  );
});

test("witnesses named by flag join those of the config file", async () => {
  await using dir = await tempDir("cairn-config-");
  const file = join(dir.path, "config.json");
  const other = Cosigner.generate("witness.example/w2").verifierKey;
  await writeFile(file, JSON.stringify({ witnesses: { "http://a.example/": vkey } }));
  const config = await loadConfig({ witnesses: { "http://b.example/": other } }, file);
  assert.deepEqual(config.witnesses, { "http://a.example/": vkey, "http://b.example/": other });
});
