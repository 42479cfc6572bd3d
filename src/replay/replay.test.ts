import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { RunRecord } from "../autoscaler/recorder/record.ts";
import type { EvaluateInput } from "../autoscaler/stage-types.ts";
import { CsvError, parseCsv } from "./csv.ts";
import { replay, replayable, withReplicas, type DecisionConfig } from "./simulate.ts";
import { formatSummary, summarize } from "./summary.ts";

const T0 = Date.parse("2026-12-01T09:00:00.000Z");
const config: DecisionConfig = {
  minReplicas: 1,
  maxReplicas: 10,
  downscaleStabilization: 0,
};
const target = { apiVersion: "apps/v1", kind: "Deployment", name: "web", namespace: "shop" };

/** A record as the runtime writes it, for a run at minute m with metric value v. */
function record(
  m: number,
  value: string,
  current: number,
  replicas: number,
  extra: Partial<RunRecord> = {},
): RunRecord {
  return {
    v: 1,
    time: new Date(T0 + m * 60_000).toISOString(),
    runType: "scaler",
    dryRun: false,
    target,
    runMode: "per-resource",
    current,
    resource: {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "web" },
      spec: { replicas: current },
    },
    metrics: [{ resource: "web", value }],
    evaluation: { targetReplicas: replicas },
    decision: {
      replicas,
      scale: replicas !== current,
      rules: [],
      reason: "",
      trace: {
        raw: replicas,
        afterClamp: replicas,
        afterStabilization: replicas,
        afterPolicies: replicas,
        final: replicas,
      },
    },
    scaled: replicas !== current,
    durationMs: 1,
    ...extra,
  };
}

const fromMetric = (input: EvaluateInput) =>
  Promise.resolve({ targetReplicas: Number(input.metrics?.[0]?.value) });

describe("replay", () => {
  const records = [record(0, "2", 2, 2), record(1, "4", 2, 4), record(2, "3", 4, 3), record(3, "3", 3, 3)];

  test("only real runs that got their metrics are replayed", () => {
    const runs = replayable([
      ...records,
      record(4, "9", 3, 9, { dryRun: true, runType: "api_dry_run" }),
      (({ metrics: _m, ...rest }) => ({
        ...rest,
        failure: { step: "read-target" as const, message: "gone" },
      }))(record(5, "1", 3, 3)),
    ]);
    assert.equal(runs.length, 4);
    assert.deepEqual(runs[1]?.recorded, { current: 2, evaluation: 4, replicas: 4, scaled: true, cut: false });
  });

  test("the same logic over the same records decides as recorded, and summarises the same bytes every time", async () => {
    const first = await replay({ runs: replayable(records), config, evaluate: fromMetric });
    assert.deepEqual(
      first.map((s) => [s.recorded?.replicas, s.replayed.replicas]),
      [
        [2, 2],
        [4, 4],
        [3, 3],
        [3, 3],
      ],
    );
    const second = await replay({ runs: replayable(records), config, evaluate: fromMetric });
    const text = formatSummary(summarize(first), "Deployment/web in shop");
    assert.equal(formatSummary(summarize(second), "Deployment/web in shop"), text);
    assert.match(text, /Every run decided as recorded\./);
    assert.match(text, /^scale events {5}2 {9}2$/m);
    // replica-minutes: 2 + 4 + 3 over the three minutes between the four runs.
    assert.match(text, /^replica-minutes {2}9 {9}9$/m);
  });

  test("new logic shows where and how far it differs, with the target following the replay", async () => {
    const inputs: EvaluateInput[] = [];
    const doubled = (input: EvaluateInput) => {
      inputs.push(input);
      return Promise.resolve({ targetReplicas: Number(input.metrics?.[0]?.value) * 2 });
    };
    const steps = await replay({ runs: replayable(records), config, evaluate: doubled });
    assert.deepEqual(
      steps.map((s) => s.replayed.replicas),
      [4, 8, 6, 6],
    );
    // The stage saw the replayed replicas in spec.replicas, the recorded metrics, nothing else new.
    assert.deepEqual(
      inputs.map((i) => (i.resource["spec"] as { replicas: number }).replicas),
      [2, 4, 8, 6],
    );
    assert.deepEqual(Object.keys(inputs[0] ?? {}).sort(), ["metrics", "resource", "runType"]);
    const summary = summarize(steps);
    assert.deepEqual(summary.differing, { runs: 4, largest: 4, mean: 3 });
    assert.match(
      formatSummary(summary, "x"),
      /4 of 4 runs \(100\.0%\) decided differently; largest difference 4 replicas, mean 3 per run\./,
    );
  });

  test("with state on, the stage gets the state it returned in the run before (null at first)", async () => {
    const seen: unknown[] = [];
    const counting = (input: EvaluateInput) => {
      seen.push(input.state);
      const runs = ((input.state as { runs?: number } | null)?.runs ?? 0) + 1;
      return Promise.resolve({ targetReplicas: 2, state: { runs } });
    };
    await replay({ runs: replayable(records), config, evaluate: counting, state: true });
    assert.deepEqual(seen, [null, { runs: 1 }, { runs: 2 }, { runs: 3 }]);
  });

  test("min/max and downscale stabilisation apply on the simulated clock", async () => {
    const runs = replayable([record(0, "20", 2, 10), record(1, "1", 10, 10), record(3, "1", 10, 1)]);
    const steps = await replay({
      runs,
      config: { ...config, downscaleStabilization: 90 },
      evaluate: fromMetric,
    });
    assert.deepEqual(
      steps.map((s) => s.replayed.replicas),
      [10, 10, 1],
    );
    assert.deepEqual(
      steps.map((s) => s.replayed.rules),
      [["maxReplicas"], ["stabilization"], []],
    );
  });

  test("a failing evaluation is a failed run: the target stays, and the summary counts it", async () => {
    const steps = await replay({
      runs: replayable(records),
      config,
      evaluate: () => Promise.reject(new Error("evaluate failed: exit 1")),
    });
    assert.ok(
      steps.every((s) => s.replayed.failed === "evaluate failed: exit 1" && s.replayed.replicas === 2),
    );
    assert.equal(summarize(steps).replayed.failures, 4);
  });

  test("withReplicas sets spec.replicas only where the target has one", () => {
    assert.deepEqual(withReplicas({ spec: { replicas: 1, paused: true } }, 3), {
      spec: { replicas: 3, paused: true },
    });
    assert.deepEqual(withReplicas({ kind: "X" }, 3), { kind: "X" });
  });
});

describe("parseCsv", () => {
  const t = { apiVersion: "apps/v1", kind: "Deployment", name: "web", namespace: "shop" };
  test("one metric column: its cell is the value; several: a JSON object; times in seconds or RFC 3339", () => {
    const one = parseCsv("time,queue\n0,5\n60,40\n", "load.csv", t);
    assert.deepEqual(
      one.map((r) => [r.at - (one[0]?.at ?? 0), r.metrics]),
      [
        [0, [{ resource: "web", value: "5" }]],
        [60_000, [{ resource: "web", value: "40" }]],
      ],
    );
    const two = parseCsv("time,cpu,queue\n2026-12-01T09:00:00Z,0.5,7\n", "load.csv", t);
    const [run] = two;
    assert.ok(run);
    assert.equal(run.at, T0);
    assert.deepEqual(run.metrics, [{ resource: "web", value: '{"cpu":0.5,"queue":7}' }]);
    assert.equal(run.resource.kind, "Deployment");
  });
  test("mistakes name the file, line and field", () => {
    assert.throws(
      () => parseCsv("when,q\n", "l.csv", t),
      (e: Error) => e instanceof CsvError && e.message.startsWith("l.csv: the first line must be a header"),
    );
    assert.throws(() => parseCsv("time,q\n0,x\n", "l.csv", t), /l\.csv:2: q "x" is not a number/);
    assert.throws(() => parseCsv("time,q\n0,1,2\n", "l.csv", t), /l\.csv:2: 3 fields, the header has 2/);
    assert.throws(() => parseCsv("time,q\nsoon,1\n", "l.csv", t), /l\.csv:2: time "soon"/);
  });
});
