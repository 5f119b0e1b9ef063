import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import {
  ConfigError,
  checkConfig,
  DEFAULT_CONFIG,
  loadConfig,
  tarballLimits,
} from "../../src/origin/config.ts";
import { DEFAULT_TARBALL_LIMITS } from "../../src/registry/tarball-limits.ts";
import { UplinkRoutes } from "../../src/upstream/routes.ts";
import { tempDir } from "../helpers/log.ts";

test("the tarball caps come from the configuration, and only whole positive numbers do", () => {
  assert.deepEqual(tarballLimits(DEFAULT_CONFIG), DEFAULT_TARBALL_LIMITS);
  const limits = tarballLimits({
    ...DEFAULT_CONFIG,
    ...checkConfig(
      { maxTarballBytes: 1024, maxUnpackedBytes: 4096, maxCompressionRatio: 7 },
      "test",
    ),
  });
  assert.deepEqual(
    [limits.maxCompressedBytes, limits.maxUnpackedBytes, limits.maxRatio],
    [1024, 4096, 7],
  );
  for (const bad of [0, -1, 1.5, Number.MAX_VALUE]) {
    assert.throws(() => checkConfig({ maxTarballBytes: bad }, "test"), ConfigError, String(bad));
  }
  assert.throws(() => checkConfig({ maxCompressionRatio: "100" }, "test"), ConfigError);
});

test("a --local pattern comes before the config file's patterns, so it wins over its **", async () => {
  await using dir = await tempDir("cairn-config-");
  const file = join(dir.path, "config.json");
  await writeFile(
    file,
    JSON.stringify({
      uplinks: { npm: { url: "http://127.0.0.1:9/" } },
      packages: { "**": { uplink: "npm" } },
    }),
  );
  const config = await loadConfig({ packages: { "@corp/*": { uplink: null } } }, file);
  assert.deepEqual(Object.keys(config.packages ?? {}), ["@corp/*", "**"]);
  const routes = UplinkRoutes.fromConfig(config);
  assert.equal(routes?.route("@corp/secret"), undefined);
  assert.equal(routes?.route("express")?.name, "npm");
});

test("uplink settings are checked: names, URLs, numbers, and routes to uplinks that exist", async () => {
  for (const [settings, pattern] of [
    [{ uplinks: { "Bad Name": { url: "http://x/" } } }, /an uplink's name/],
    [{ uplinks: { npm: { url: "ftp://x/" } } }, /url must be an http or https URL/],
    [{ uplinks: { npm: { url: "http://x/", maxAge: -1 } } }, /maxAge must be a positive/],
    [{ uplinks: { npm: { url: "http://x/", extra: 1 } } }, /unknown setting "extra"/],
    [{ uplinks: { npm: { url: "http://x/", readAhead: "yes" } } }, /readAhead must be a boolean/],
    [{ packages: { "**": { uplink: 1 } } }, /must be \{"uplink"/],
  ] as const) {
    assert.throws(() => checkConfig(settings, "test"), pattern);
  }
  await assert.rejects(
    loadConfig({ packages: { "**": { uplink: "nowhere" } } }),
    /no uplink is named nowhere/,
  );
});
