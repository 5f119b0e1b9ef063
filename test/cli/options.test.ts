/**
 * Every numeric option of every command refuses what is not a number in its
 * range as a usage error, before the command runs.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { type Command, InvalidArgumentError, type Option } from "commander";
import { buildProgram } from "../../src/cli/main.ts";
import { cairn } from "../helpers/cli.ts";

/** Options whose value placeholder names a number. */
const NUMERIC = /<(n|ms|seconds|port|entries)>/;

function numericOptions(command: Command, path: string[] = []): [string, Option][] {
  const here = command.options
    .filter((o) => NUMERIC.test(o.flags))
    .map((o): [string, Option] => [[...path, o.long].join(" "), o]);
  return [...here, ...command.commands.flatMap((c) => numericOptions(c, [...path, c.name()]))];
}

describe("numeric options", async () => {
  const options = numericOptions(await buildProgram());

  test("there are some, and each has a parser that keeps its own default", () => {
    assert.ok(options.length >= 15, `${options.length} numeric options`);
    for (const [name, option] of options) {
      assert.equal(typeof option.parseArg, "function", name);
      if (option.defaultValue !== undefined)
        assert.equal(
          option.parseArg?.(String(option.defaultValue), undefined),
          option.defaultValue,
        );
    }
  });

  test("words, signs, fractions, exponents and huge values are refused", () => {
    for (const [name, option] of options)
      for (const bad of ["abc", "", "-1", "1.5", "1e3", " 8", "0x10", "99999999999999999999"])
        assert.throws(
          () => option.parseArg?.(bad, undefined),
          InvalidArgumentError,
          `${name} ${JSON.stringify(bad)}`,
        );
  });

  test("counts of things in flight and timeouts must be at least 1; timers must fit", () => {
    for (const [name, option] of options) {
      if (/concurrency|timeout/.test(name))
        assert.throws(() => option.parseArg?.("0", undefined), InvalidArgumentError, name);
      if (/timeout|interval|refresh/.test(name))
        assert.throws(() => option.parseArg?.("4000000000", undefined), InvalidArgumentError, name);
    }
  });

  test("cairn log verify --concurrency abc is a usage error naming the option", async () => {
    const result = await cairn([
      "log",
      "verify",
      "does-not-matter",
      "--key",
      "k",
      "--concurrency",
      "abc",
    ]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /option '--concurrency <n>' argument 'abc' is invalid/);
  });
});

describe("--gateway", () => {
  const gatewayOptions = (command: Command, path: string[] = []): [string, Option][] => [
    ...command.options
      .filter((o) => o.long === "--gateway")
      .map((o): [string, Option] => [[...path, o.long].join(" "), o]),
    ...command.commands.flatMap((c) => gatewayOptions(c, [...path, c.name()])),
  ];

  test("install, proxy and mirror take it, repeated, and refuse what is not an http(s) URL", async () => {
    const options = gatewayOptions(await buildProgram());
    const names = options.map(([name]) => name);
    assert.ok(names.includes("install --gateway"), names.join(", "));
    assert.ok(names.includes("proxy --gateway"), names.join(", "));
    assert.ok(names.includes("mirror --gateway"), names.join(", "));
    for (const [name, option] of options) {
      const one = option.parseArg?.("http://a.example", option.defaultValue);
      assert.deepEqual(option.parseArg?.("https://b.example/", one), [
        "http://a.example",
        "https://b.example/",
      ]);
      for (const bad of ["a.example", "ftp://a.example", "http://a.example/?x=1", ""])
        assert.throws(() => option.parseArg?.(bad, []), InvalidArgumentError, `${name} ${bad}`);
    }
  });
});
