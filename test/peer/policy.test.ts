/**
 * The share policy over a real origin's state and a real install store:
 * latest or popular versions share, opted-out packages and unpublished
 * versions never do, and only blobs of shareable versions the store holds
 * (and whose tarball is the logged one) are offered.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { describe, test } from "node:test";
import { loadPopularity, SharePolicy, shareSet } from "../../src/peer/policy.ts";
import { EntryError } from "../../src/registry/entries.ts";
import { sha256Hex } from "../../src/util/sha256.ts";
import { tempDir } from "../helpers/log.ts";
import { startTestOrigin } from "../helpers/origin.ts";
import { policyOf, registryOfCases, storeOfCases } from "../helpers/share-cases.ts";
import { packageJson, rawTgz } from "../helpers/tar.ts";

describe("share policy", () => {
  test("latest or popular shares; opted-out, unpublished, unpopular and unknown do not", async () => {
    await using origin = await registryOfCases();
    const policy = await policyOf(origin);
    assert.equal(policy.threshold, 3);
    const decisions = async () =>
      Object.fromEntries(
        await Promise.all(
          [
            "plain@1.0.0",
            "plain@1.1.0",
            "hot@1.0.0",
            "hot@2.0.0",
            "secret@1.0.0",
            "secret@1.1.0",
            "gone@1.0.0",
            "gone@1.1.0",
            "plain@9.9.9",
            "nobody@1.0.0",
          ].map(async (spec) => {
            const [name, version] = spec.split("@");
            return [spec, (await policy.decide(name, version)).reason];
          }),
        ),
      );
    assert.deepEqual(await decisions(), {
      "plain@1.0.0": "unpopular",
      "plain@1.1.0": "latest",
      "hot@1.0.0": "popular",
      "hot@2.0.0": "latest",
      // Opted out by its first version: the later one, latest, is withheld too.
      "secret@1.0.0": "opted-out",
      "secret@1.1.0": "opted-out",
      // The latest tag moved back to 1.0.0 when 1.1.0 was unpublished; popular or not, 1.1.0 is gone.
      "gone@1.0.0": "latest",
      "gone@1.1.0": "unpublished",
      "plain@9.9.9": "unknown",
      "nobody@1.0.0": "unknown",
    });
    // A taken-down version, even the latest and popular one, is never shared.
    await origin.registry.takedown({
      kind: "takedown",
      actor: "carol",
      ecosystem: "npm",
      name: "hot",
      version: "1.0.0",
      reason: "Malware",
    });
    assert.equal((await policy.decide("hot", "1.0.0")).reason, "taken-down");
    await origin.registry.takedown({
      kind: "restore",
      actor: "carol",
      ecosystem: "npm",
      name: "hot",
      version: "1.0.0",
      reason: "Cleared",
    });
    assert.equal((await policy.decide("hot", "1.0.0")).reason, "popular");
    // A peer may raise the threshold, never lower it (hot@1.0.0 still heads its line).
    assert.equal(
      (await (await policyOf(origin, 4)).decide("hot", "1.0.0")).reason,
      "latest-in-line",
    );
    assert.equal((await policyOf(origin, 1)).threshold, 3);
    // A peer may share popular versions only.
    const popularOnly = new SharePolicy({
      document: (name) => origin.registry.state.table("npm").document(name),
      popularity: (await policyOf(origin)).popularity,
      latest: false,
    });
    assert.equal((await popularOnly.decide("hot", "2.0.0")).reason, "unpopular");
    assert.equal((await popularOnly.decide("hot", "1.0.0")).reason, "popular");
    // Without a sketch only latest versions and the latest of each line share.
    const noSketch = new SharePolicy({
      document: (name) => origin.registry.state.table("npm").document(name),
    });
    assert.equal((await noSketch.decide("hot", "1.0.0")).reason, "latest-in-line");
    assert.equal((await noSketch.decide("plain", "1.0.0")).reason, "unpopular");
    assert.equal((await noSketch.decide("hot", "2.0.0")).reason, "latest");
  });

  test("the latest of each release line shares: what a caret range picks, never a pin", async () => {
    await using origin = await startTestOrigin();
    for (const version of [
      "0.0.1",
      "0.0.2",
      "0.1.0",
      "0.1.1",
      "0.2.0",
      "1.0.0",
      "1.2.0",
      "1.3.0",
      "2.0.0-beta.1",
      "2.0.0",
    ])
      await origin.publish("lines", version);
    await origin.registry.change("alice", "npm", "lines", [
      { kind: "unpublish", version: "1.3.0" },
    ]);
    const state = origin.registry.state;
    const policy = new SharePolicy({ document: (name) => state.table("npm").document(name) });
    const reasons = async () => {
      const doc = state.table("npm").document("lines");
      assert.ok(doc);
      return Object.keys(doc.versions).map((v) => `${v} ${policy.decideIn(doc, v).reason}`);
    };
    assert.deepEqual(await reasons(), [
      // A caret range in 0.0.x matches one version: holding it is a pin.
      "0.0.1 unpopular",
      "0.0.2 unpopular",
      "0.1.0 unpopular",
      "0.1.1 latest-in-line",
      "0.2.0 latest-in-line",
      "1.0.0 unpopular",
      // 1.3.0 is unpublished, so ^1 resolves to 1.2.0.
      "1.2.0 latest-in-line",
      "1.3.0 unpublished",
      "2.0.0-beta.1 unpopular",
      "2.0.0 latest",
    ]);
    // A taken-down head hands its line to the version below it.
    await origin.registry.takedown({
      kind: "takedown",
      actor: "carol",
      ecosystem: "npm",
      name: "lines",
      version: "1.2.0",
      reason: "Malware",
    });
    assert.deepEqual((await reasons()).slice(5, 7), ["1.0.0 latest-in-line", "1.2.0 taken-down"]);
    // A peer that shares popular versions only shares no line either.
    const popularOnly = new SharePolicy({
      document: (name) => state.table("npm").document(name),
      latest: false,
    });
    assert.equal((await popularOnly.decide("lines", "0.2.0")).reason, "unpopular");
  });

  test("a sketch that does not match its entry is refused", async () => {
    await using origin = await registryOfCases();
    const entry = origin.registry.state.popularity?.entry;
    assert.ok(entry);
    await assert.rejects(loadPopularity(entry, async () => Buffer.from("not the sketch")));
    await assert.rejects(
      loadPopularity({ ...entry, width: 1024 }, async (ref) => {
        const bytes = await origin.registry.blobs.get(ref.sha256);
        assert.ok(bytes);
        return bytes;
      }),
      (err) => err instanceof EntryError && err.code === "bad-sketch",
    );
  });

  test("the share set holds the index and files of shareable stored versions only", async () => {
    await using origin = await registryOfCases();
    const policy = await policyOf(origin);
    await using dir = await tempDir();
    const { store, held } = await storeOfCases(origin, dir.path, [
      "plain@1.0.0",
      "plain@1.1.0",
      "hot@1.0.0",
      "secret@1.1.0",
      "gone@1.1.0",
    ]);
    // A tarball of a name the log has, but not the logged bytes: never shared.
    const forged = rawTgz([packageJson("hot", "2.0.0", { description: "forged" })]);
    await store.addTarball(forged, {
      integrity: `sha512-${createHash("sha512").update(forged).digest("base64")}`,
    });

    const { blobs, versions } = await shareSet(store, policy);
    assert.deepEqual(
      versions.map((v) => `${v.name}@${v.version} ${v.decision.reason}`),
      [
        "gone@1.1.0 unpublished",
        "hot@1.0.0 popular",
        "hot@2.0.0 unknown",
        "plain@1.0.0 unpopular",
        "plain@1.1.0 latest",
        "secret@1.1.0 opted-out",
      ],
    );
    const shared = (spec: string) => {
      const { index, packageJson } = held.get(spec) ?? { index: "", packageJson: "" };
      return [blobs.has(index), blobs.has(packageJson)];
    };
    assert.deepEqual(shared("plain@1.1.0"), [true, true]);
    assert.deepEqual(shared("hot@1.0.0"), [true, true]);
    assert.deepEqual(shared("plain@1.0.0"), [false, false]);
    assert.deepEqual(shared("secret@1.1.0"), [false, false]);
    assert.deepEqual(shared("gone@1.1.0"), [false, false]);
    // Each shared blob's path holds exactly its bytes.
    for (const blob of blobs.values()) {
      const bytes = await readFile(blob.path);
      assert.equal(sha256Hex(bytes), blob.sha256, blob.path);
      assert.equal(bytes.length, blob.size);
    }
    const index = blobs.get(held.get("hot@1.0.0")?.index ?? "");
    assert.deepEqual([index?.name, index?.version, index?.reason], ["hot", "1.0.0", "popular"]);
  });
});
