import assert from "node:assert/strict";
import { test } from "node:test";
import {
  ConfigError,
  checkConfig,
  DEFAULT_CONFIG,
  tarballLimits,
} from "../../src/origin/config.ts";
import { DEFAULT_TARBALL_LIMITS } from "../../src/registry/tarball-limits.ts";

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
