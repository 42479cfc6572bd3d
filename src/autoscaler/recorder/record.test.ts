import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { decide, emptyHistory } from "../decide/decide.ts";
import { decisionRules, METRIC_VALUE_CAP, RESOURCE_CAP, runRecord, type RecordInput } from "./record.ts";

const AT = Date.parse("2026-12-01T09:00:00.000Z");
const target = { apiVersion: "apps/v1", kind: "Deployment", name: "web", namespace: "shop" };
const resource = {
  apiVersion: "apps/v1",
  kind: "Deployment",
  metadata: { name: "web", namespace: "shop", labels: { app: "web" } },
  spec: { replicas: 2 },
};

function input(seen: RecordInput["seen"], extra: Partial<RecordInput> = {}): RecordInput {
  return {
    at: AT,
    runType: "scaler",
    dryRun: false,
    target,
    runMode: "per-resource",
    seen,
    durationMs: 12.345,
    ...extra,
  };
}

const decision = (evaluation: number, current = 2, min = 1, max = 5) =>
  decide({
    evaluation,
    current,
    minReplicas: min,
    maxReplicas: max,
    now: AT,
    downscaleStabilizationSeconds: 0,
    history: emptyHistory(),
  });

describe("runRecord", () => {
  test("a run's record: what the stages saw, what they returned, the decision and the rules that shaped it", () => {
    const record = runRecord(
      input({
        current: 2,
        resource,
        metrics: [{ resource: "web", value: "9" }],
        evaluation: { targetReplicas: 9 },
        decision: decision(9),
        scaled: true,
      }),
    );
    assert.deepEqual(record, {
      v: 1,
      time: "2026-12-01T09:00:00.000Z",
      runType: "scaler",
      dryRun: false,
      target,
      runMode: "per-resource",
      current: 2,
      resource,
      metrics: [{ resource: "web", value: "9" }],
      evaluation: { targetReplicas: 9 },
      decision: {
        replicas: 5,
        scale: true,
        rules: ["maxReplicas"],
        reason: record.decision?.reason ?? "",
        trace: { raw: 9, afterClamp: 5, afterStabilization: 5, afterPolicies: 5, final: 5 },
      },
      scaled: true,
      durationMs: 12.3,
    });
    assert.match(record.decision.reason, /maxReplicas/);
  });

  test("a failed run's record holds what the run got to, and why it failed", () => {
    const record = runRecord(
      input(
        { current: 2, resource },
        { failure: { step: "stage", stage: "metric", message: "metric failed: exit 1" } },
      ),
    );
    assert.equal(record.current, 2);
    assert.equal(record.metrics, undefined);
    assert.equal(record.decision, undefined);
    assert.equal(record.scaled, false);
    assert.deepEqual(record.failure, { step: "stage", stage: "metric", message: "metric failed: exit 1" });
  });

  test("per-pod mode with no Pods records metrics as null, as the evaluate stage got them", () => {
    assert.equal(runRecord(input({ current: 2, resource, metrics: null })).metrics, null);
  });

  test("a metric value past the cap is cut to a prefix, whole characters only, and the cut recorded", () => {
    const long = `${"a".repeat(METRIC_VALUE_CAP - 1)}é${"b".repeat(100)}`;
    const record = runRecord(
      input({
        metrics: [
          { resource: "p-1", value: "1" },
          { resource: "p-2", value: long },
        ],
      }),
    );
    const kept = record.metrics?.[1]?.value ?? "";
    assert.equal(kept, "a".repeat(METRIC_VALUE_CAP - 1));
    assert.ok(Buffer.byteLength(kept) <= METRIC_VALUE_CAP);
    assert.equal(record.metrics?.[0]?.value, "1");
    assert.deepEqual(record.cuts, [
      { path: "metrics[1].value", bytes: Buffer.byteLength(long), cap: METRIC_VALUE_CAP, kept: "prefix" },
    ]);
  });

  test("the target is kept without managedFields and the Pod template", () => {
    const live = {
      ...resource,
      metadata: { ...resource.metadata, managedFields: [{ manager: "kubectl" }] },
      spec: {
        replicas: 2,
        template: { spec: { containers: [{ env: [{ name: "TOKEN", value: "s3cret" }] }] } },
      },
    };
    const record = runRecord(input({ resource: live }));
    assert.deepEqual(record.resource, resource);
    assert.equal(record.cuts, undefined);
    assert.ok(!JSON.stringify(record).includes("s3cret"));
  });

  test("a target still past the cap keeps a summary, and the cut is recorded", () => {
    const huge = {
      ...resource,
      spec: { replicas: 2, strategy: { blob: "y".repeat(RESOURCE_CAP) } },
      status: { replicas: 2, readyReplicas: 1, conditions: [] },
    };
    const summary = runRecord(input({ resource: huge }));
    assert.deepEqual(summary.resource, {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "web", namespace: "shop", labels: { app: "web" } },
      spec: { replicas: 2 },
      status: { replicas: 2, readyReplicas: 1 },
    });
    assert.deepEqual(
      summary.cuts?.map((c) => [c.path, c.kept]),
      [["resource", "summary"]],
    );
    assert.ok(JSON.stringify(summary).length < RESOURCE_CAP);
  });
});

describe("decisionRules", () => {
  const trace = (
    raw: number,
    afterClamp: number,
    afterStabilization: number,
    afterPolicies: number,
    final: number,
  ) => ({
    reason: "",
    trace: { raw, afterClamp, afterStabilization, afterPolicies, final },
  });
  test("each step that changed the value, in order", () => {
    assert.deepEqual(decisionRules(trace(3, 3, 3, 3, 3)), []);
    assert.deepEqual(decisionRules(trace(0, 1, 1, 1, 1)), ["minReplicas"]);
    assert.deepEqual(decisionRules(trace(9, 5, 5, 5, 5)), ["maxReplicas"]);
    assert.deepEqual(decisionRules(trace(1, 1, 4, 4, 4)), ["stabilization"]);
    assert.deepEqual(decisionRules(trace(9, 5, 5, 3, 3)), ["maxReplicas", "policy"]);
    assert.deepEqual(decisionRules(trace(2, 2, 2, 2, 3)), ["bounds"]);
  });
  test("a disabled run names only that", () => {
    assert.deepEqual(decisionRules(decision(4, 0)), ["disabled"]);
  });
});
