import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { RunRecord } from "./record.ts";
import { parseSince, RecordRing } from "./ring.ts";

const record = (minute: number, pad = ""): RunRecord => ({
  v: 1,
  time: new Date(Date.UTC(2026, 11, 1, 9, minute)).toISOString(),
  runType: "scaler",
  dryRun: false,
  target: { kind: "Deployment", name: "web", namespace: "shop" },
  runMode: "per-resource",
  scaled: false,
  durationMs: 1,
  ...(pad ? { failure: { step: "other" as const, message: pad } } : {}),
});

describe("RecordRing", () => {
  test("keeps the latest records up to its count, oldest dropped first", () => {
    const ring = new RecordRing(3, 1e6);
    for (let m = 0; m < 10; m++) ring.add(record(m));
    assert.equal(ring.size, 3);
    assert.equal(ring.dropped, 7);
    assert.deepEqual(
      ring.lines().map((l) => (JSON.parse(l) as RunRecord).time.slice(11, 16)),
      ["09:07", "09:08", "09:09"],
    );
  });

  test("and up to its bytes, always keeping the newest", () => {
    const one = JSON.stringify(record(0, "x".repeat(100))).length;
    const ring = new RecordRing(1000, one * 2 + 10);
    for (let m = 0; m < 5; m++) ring.add(record(m, "x".repeat(100)));
    assert.equal(ring.size, 2);
    assert.ok(ring.bytes <= one * 2 + 10);
    const big = new RecordRing(1000, 10);
    big.add(record(0, "x".repeat(100)));
    assert.equal(big.size, 1, "a record larger than the bound is still kept, alone");
  });

  test("stays bounded over many records (the array is compacted)", () => {
    const ring = new RecordRing(5, 1e6);
    for (let m = 0; m < 5000; m++) ring.add(record(m % 60));
    assert.equal(ring.size, 5);
    assert.equal(ring.lines().length, 5);
  });

  test("lines(since) gives the records at or after a time", () => {
    const ring = new RecordRing();
    for (let m = 0; m < 5; m++) ring.add(record(m));
    assert.equal(ring.lines(Date.UTC(2026, 11, 1, 9, 3)).length, 2);
  });
});

describe("parseSince", () => {
  const now = Date.UTC(2026, 11, 1, 12, 0);
  test("a duration back from now, or an RFC 3339 time", () => {
    assert.equal(parseSince("6h", now), Date.UTC(2026, 11, 1, 6, 0));
    assert.equal(parseSince("90s", now), now - 90_000);
    assert.equal(parseSince("2d", now), now - 2 * 86_400_000);
    assert.equal(parseSince("2026-12-01T09:00:00Z", now), Date.UTC(2026, 11, 1, 9, 0));
  });
  test("anything else is refused, saying what it takes", () => {
    assert.match(String(parseSince("yesterday", now)), /RFC 3339 .* or a duration .*got 'yesterday'/);
    assert.match(String(parseSince("6 h", now)), /got '6 h'/);
  });
});
