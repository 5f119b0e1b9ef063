/**
 * crates.io's name rules, with the cases of crates_io_validation's own
 * tests, its reserved-name migrations, and cargo-util's index path tests.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { CargoError } from "../../../src/cargo/rules/errors.ts";
import { crateOfIndexPath, indexPath } from "../../../src/cargo/rules/index-path.ts";
import {
  checkCrateName,
  checkDependencyName,
  checkFeatureName,
  checkFeatureValue,
  checkNotReserved,
  keyName,
} from "../../../src/cargo/rules/name.ts";

const code = (c: string) => (e: unknown) => e instanceof CargoError && e.code === c;

describe("crate names", () => {
  test("crates_io_validation's test_validate_crate_name", () => {
    for (const ok of ["foo", "foo_underscore", "foo-dash", "a", "A1", "a".repeat(64)])
      checkCrateName(ok);
    for (const bad of [
      "京",
      "",
      "💝",
      "foo+plus",
      "_foo",
      "-foo",
      "1foo",
      "a".repeat(65),
      "foo bar",
      "foo.bar",
    ])
      assert.throws(() => checkCrateName(bad), code("bad-name"), bad);
  });

  test("a dependency's name in Cargo.toml may start with `_`; the crate it names may not", () => {
    checkDependencyName("_foo");
    assert.throws(() => checkCrateName("_foo", "dependency"), code("bad-name"));
    assert.throws(() => checkDependencyName("1foo"), code("bad-name"));
  });

  test("canonical form: lowercase with `-` as `_`", () => {
    assert.equal(keyName("Serde-JSON"), "serde_json");
    assert.equal(keyName("serde_json"), keyName("SERDE-json"));
    assert.notEqual(keyName("serde"), keyName("ser_de"));
  });

  test("reserved names, compared in canonical form (crates.io's migrations)", () => {
    for (const name of [
      "std",
      "core",
      "Compiler_Builtins",
      "compiler-builtins",
      "proc-macro",
      "NUL",
      "com0",
      "lpt9",
      "rust_installer",
    ])
      assert.throws(() => checkNotReserved(name), code("reserved-name"), name);
    for (const name of ["serde", "com10", "stdx", "lpt"]) checkNotReserved(name);
  });
});

describe("feature names and values (validate_feature_name, validate_feature)", () => {
  test("names", () => {
    for (const ok of ["foo", "_foo", "1foo", "foo.bar", "foo+bar", "foo-bar", "äöü", "中文"])
      checkFeatureName(ok);
    for (const bad of ["", "-foo", "+foo", ".foo", "foo/bar", "foo:bar", "foo bar", "foo?"])
      assert.throws(() => checkFeatureName(bad), code("bad-feature"), bad);
  });

  test("values", () => {
    for (const ok of ["foo", "dep:bar", "bar/feat", "bar?/feat", "_bar/feat"])
      checkFeatureValue(ok);
    for (const bad of [
      "",
      "dep:",
      "dep:1bar",
      "bar/",
      "/feat",
      "bar??/feat",
      "1bar/feat",
      "bar/fe at",
    ])
      assert.throws(() => checkFeatureValue(bad), code("bad-feature"), bad);
  });
});

describe("index paths (cargo-util make_dep_path)", () => {
  test("cargo's cases, lowercased as cargo asks", () => {
    assert.equal(indexPath("a"), "1/a");
    assert.equal(indexPath("ab"), "2/ab");
    assert.equal(indexPath("abc"), "3/a/abc");
    assert.equal(indexPath("AbCd"), "ab/cd/abcd");
    assert.equal(indexPath("serde_json"), "se/rd/serde_json");
    assert.equal(indexPath("Serde-JSON"), "se/rd/serde-json");
  });

  test("the reverse: only paths cargo makes", () => {
    for (const name of [
      "a",
      "ab",
      "abc",
      "abcd",
      "serde_json",
      "serde-json",
      "a-b",
      "z".repeat(64),
    ])
      assert.equal(crateOfIndexPath(indexPath(name)), name);
    for (const path of [
      "1/A",
      "Se/rd/serde",
      "se/rd/Serde",
      "2/a",
      "3/b/abc",
      "ab/cd/abce",
      "ab/abcd",
      "se/rd/serde/",
      "/se/rd/serde",
      "se/rd/../serde",
      "1/_",
      "3/1/1ab",
      "config.json",
      "",
      "ab/c_/abc-x",
    ])
      assert.throws(() => crateOfIndexPath(path), code("bad-index-path"), path);
  });
});
