import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  CanonicalJsonError,
  canonicalJson,
  MAX_JSON_DEPTH,
} from "../../src/registry/canonical-json.ts";

describe("RFC 8785 canonical JSON", () => {
  test("the RFC's sorting example (section 3.2.3)", () => {
    const input = {
      "\u20ac": "Euro Sign",
      "\r": "Carriage Return",
      "\ufb33": "Hebrew Letter Dalet With Dagesh",
      "1": "One",
      "\ud83d\ude00": "Emoji: Grinning Face",
      "\u0080": "Control",
      "\u00f6": "Latin Small Letter O With Diaeresis",
    };
    // Read the values in serialized order (JSON.parse would move "1" first again).
    const order = [...canonicalJson(input).matchAll(/:"([^"]+)"/g)].map((m) => m[1]);
    assert.deepEqual(order, [
      "Carriage Return",
      "One",
      "Control",
      "Latin Small Letter O With Diaeresis",
      "Euro Sign",
      "Emoji: Grinning Face",
      "Hebrew Letter Dalet With Dagesh",
    ]);
  });

  test("the RFC's serialization example (section 3.2.2)", () => {
    const input = {
      // biome-ignore lint/correctness/noPrecisionLoss: the RFC's own input, which parses to 333333333.3333333
      numbers: [333333333.33333329, 1e30, 4.5, 2e-3, 0.000000000000000000000000001],
      string: "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"/",
      literals: [null, true, false],
    };
    assert.equal(
      canonicalJson(input),
      '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}',
    );
  });

  test("undefined members are dropped; what JSON cannot hold is refused", () => {
    assert.equal(
      canonicalJson({ b: 1, a: undefined, c: [{ z: 0, y: "x" }] }),
      '{"b":1,"c":[{"y":"x","z":0}]}',
    );
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, "\ud800", () => 0, 1n]) {
      assert.throws(() => canonicalJson(bad), CanonicalJsonError);
    }
  });

  test("nesting is bounded: deeper than MAX_JSON_DEPTH is a too-deep error, never a stack overflow", () => {
    const nest = (depth: number) => {
      let value: unknown = 1;
      for (let i = 0; i < depth; i++) value = i % 2 ? [value] : { a: value };
      return value;
    };
    assert.doesNotThrow(() => canonicalJson(nest(MAX_JSON_DEPTH)));
    for (const depth of [MAX_JSON_DEPTH + 1, 4400, 200_000]) {
      assert.throws(
        () => canonicalJson(nest(depth)),
        (err) => err instanceof CanonicalJsonError && err.code === "too-deep",
      );
    }
  });
});
