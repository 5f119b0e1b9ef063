import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  formatMirrorList,
  MirrorListError,
  openMirrorList,
  parseMirrorList,
  signMirrorList,
} from "../../src/log/mirror-list.ts";
import { normalizeBaseUrl, treeUrl } from "../../src/log/urls.ts";
import { testKey } from "../helpers/log.ts";

describe("mirror list", () => {
  const list = {
    origin: "test.cairn.example/log",
    updated: "2026-11-21T06:00:00.000Z",
    mirrors: ["https://a.example/", "http://b.example:8080/copy/"],
  };

  test("round-trips through its signed note", () => {
    const key = testKey();
    const note = signMirrorList(list, key.signer);
    assert.ok(note.startsWith(`${formatMirrorList(list)}\n\u2014 ${key.signer.name} `));
    assert.deepEqual(openMirrorList(note, key.verifier), list);
  });

  test("a list signed by another key, or for another log, is refused", () => {
    const key = testKey();
    const impostor = testKey();
    assert.throws(() => openMirrorList(signMirrorList(list, impostor.signer), key.verifier));
    const other = testKey("other.example/log");
    assert.throws(
      () => openMirrorList(signMirrorList(list, other.signer), other.verifier),
      (err) => err instanceof MirrorListError && err.code === "wrong-log",
    );
  });

  test("parsing is strict", () => {
    const good = formatMirrorList(list);
    assert.deepEqual(parseMirrorList(good), list);
    for (const bad of [
      good.slice(0, -1),
      good.replace("cairn-mirrors/v1", "cairn-mirrors/v2"),
      good.replace("mirror https://a.example/", "mirror https://a.example"),
      good.replace("mirror https://a.example/", "mirrorhttps://a.example/"),
      `${good}mirror https://a.example/\n`,
      good.replace("mirror https://a.example/", "mirror ftp://a.example/"),
    ]) {
      assert.throws(
        () => parseMirrorList(bad),
        (err) => err instanceof MirrorListError && err.code === "malformed-mirror-list",
        bad,
      );
    }
  });

  test("the time and origin have one spelling (fuzzer counterexamples)", () => {
    const good = formatMirrorList(list);
    for (const bad of [
      good.replace("2026-11-21T06:00:00.000Z", "2026-11-21T06:00:00Z"),
      good.replace("2026-11-21T06:00:00.000Z", "2026-11-21T06:00:00.000Z "),
      good.replace("2026-11-21T06:00:00.000Z", "yesterday"),
      good.replace("origin test.cairn.example/log", "origin "),
      good.replace("mirror https://a.example/", "mirror not a url"),
    ]) {
      assert.throws(
        () => parseMirrorList(bad),
        (err) => err instanceof MirrorListError && err.code === "malformed-mirror-list",
        bad,
      );
    }
  });

  test("base URLs are normalized and name their tree under /-/cairn/", () => {
    assert.equal(normalizeBaseUrl("http://a.example"), "http://a.example/");
    assert.equal(treeUrl("http://a.example:81/x"), "http://a.example:81/x/-/cairn/");
    assert.equal(treeUrl("http://a.example/copy/-/cairn/"), "http://a.example/copy/-/cairn/");
    assert.throws(() => normalizeBaseUrl("file:///etc/"));
    assert.throws(() => normalizeBaseUrl("http://a.example/?q=1"));
    assert.throws(() => normalizeBaseUrl("not a url"));
  });
});
