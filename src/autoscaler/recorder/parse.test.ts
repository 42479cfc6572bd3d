import assert from "node:assert/strict";
import { test } from "node:test";
import { parseRecords } from "./parse.ts";
import type { RunRecord } from "./record.ts";

const record = (time: string, replicas: number): RunRecord => ({
  v: 1,
  time,
  runType: "scaler",
  dryRun: false,
  target: { kind: "Deployment", name: "web", namespace: "shop" },
  runMode: "per-resource",
  current: replicas,
  scaled: false,
  durationMs: 3,
});

test("records come from log lines, log-store exports with a prefix, and bare trace lines, oldest first, each once", () => {
  const a = record("2026-12-01T09:00:00.000Z", 1);
  const b = record("2026-12-01T09:00:15.000Z", 2);
  const c = record("2026-12-01T09:00:30.000Z", 3);
  const lines = [
    JSON.stringify({ level: "info", time: "2026-12-01T09:00:15.001Z", msg: "Evaluated", record: b }),
    JSON.stringify({ level: "info", msg: "REST API listening" }),
    "not json at all",
    `2026-12-01T09:00:00.002Z stdout F ${JSON.stringify({ level: "info", record: a })}`,
    JSON.stringify(c),
    JSON.stringify(b),
    JSON.stringify({ ...c, v: 2 }),
    "{broken",
  ];
  const parsed = parseRecords(lines);
  assert.deepEqual(parsed.records, [a, b, c]);
  assert.equal(parsed.other, 2);
  assert.equal(parsed.unknownVersion, 1);
});
