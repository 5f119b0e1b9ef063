/** SingleFlight: one run per key at a time, nothing remembered once it lands. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { SingleFlight } from "../../src/util/single-flight.ts";

/** A promise and the functions that settle it, so a test decides when a run lands. */
function gate<T>() {
  let resolve!: (value: T) => void;
  let reject!: (err: Error) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** 50 concurrent calls for `key`, all waiting on one gate, and a count of the runs they started. */
function fifty<T>(flights: SingleFlight<string, T>, key: string) {
  const landing = gate<T>();
  const counter = { runs: 0 };
  const calls = Array.from({ length: 50 }, () =>
    flights.run(key, () => {
      counter.runs++;
      return landing.promise;
    }),
  );
  return { calls, landing, counter };
}

test("50 concurrent calls with one key share one run", async () => {
  const flights = new SingleFlight<string, object>();
  const { calls, landing, counter } = fifty(flights, "express");
  assert.equal(flights.size, 1);
  const value = {};
  landing.resolve(value);
  const results = await Promise.all(calls);
  assert.equal(counter.runs, 1);
  assert.ok(results.every((r) => r === value));
  assert.equal(flights.size, 0);
});

test("different keys run separately", async () => {
  const flights = new SingleFlight<string, string>();
  const results = await Promise.all(
    ["a", "b", "a", "c", "b"].map((key) => flights.run(key, async () => `${key}!`)),
  );
  assert.deepEqual(results, ["a!", "b!", "a!", "c!", "b!"]);
});

test("once a run lands, the next call runs again", async () => {
  const flights = new SingleFlight<string, number>();
  let runs = 0;
  const run = () => flights.run("k", async () => ++runs);
  assert.equal(await run(), 1);
  assert.equal(await run(), 2);
  // A caller that starts a run the moment the last one lands gets a new one too.
  assert.equal(await run().then(run), 4);
});

test("a failure reaches every waiting caller and is not cached", async () => {
  const flights = new SingleFlight<string, string>();
  const { calls, landing, counter } = fifty(flights, "k");
  landing.reject(new Error("upstream down"));
  const settled = await Promise.allSettled(calls);
  assert.ok(settled.every((s) => s.status === "rejected" && s.reason.message === "upstream down"));
  assert.equal(counter.runs, 1);
  assert.equal(await flights.run("k", async () => "back"), "back");
});

test("a run that throws synchronously is a rejection, and frees its key", async () => {
  const flights = new SingleFlight<string, string>();
  const failing = flights.run("k", () => {
    throw new Error("sync");
  });
  await assert.rejects(failing, /sync/);
  assert.equal(flights.size, 0);
  assert.equal(await flights.run("k", async () => "ok"), "ok");
});
