import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { createLogger } from "../lib/log.ts";
import { resolveConfig } from "./config.ts";
import { KubernetesMetricsError, parseEvaluation, runCycle, type CycleContext } from "./cycle.ts";
import { emptyHistory } from "./decide/decide.ts";
import type { GatherResult } from "./k8smetrics/gather.ts";
import { KubernetesMetricError } from "./k8smetrics/errors.ts";
import type { StageRunner } from "./methods/method.ts";
import { StageError, Stages, type StageName } from "./stages.ts";
import type { TargetClient, TargetState } from "./target.ts";

const log = createLogger("test", "silent");

/** A config as the file and env would give it: per-resource, the given extra keys. */
function config(extra: Record<string, unknown> = {}) {
  return resolveConfig(
    {
      scaleTargetRef: { kind: "Deployment", name: "web", apiVersion: "apps/v1" },
      runMode: "per-resource",
      metric: { type: "shell", shell: { entrypoint: "true" } },
      evaluate: { type: "shell", shell: { entrypoint: "true" } },
      ...extra,
    },
    "/config.yaml",
    {},
  ).config;
}

/** Stage runners that record their input and answer from a table. */
function recordingStages(answers: Partial<Record<StageName, string>>) {
  const inputs: Partial<Record<StageName, unknown[]>> = {};
  const runners: Partial<Record<StageName, StageRunner>> = {};
  for (const [stage, answer] of Object.entries(answers) as [StageName, string][]) {
    runners[stage] = {
      run: (input) => {
        (inputs[stage] ??= []).push(JSON.parse(input));
        return Promise.resolve(answer);
      },
    };
  }
  return { stages: new Stages(runners, log), inputs };
}

const state: TargetState = {
  resource: {
    group: "apps",
    version: "v1",
    resource: "deployments",
    kind: "Deployment",
    namespaced: true,
    scalable: true,
  },
  object: { apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "web" } },
  current: 2,
  selector: "app=web",
};

function fakeTarget(scaled: number[]): TargetClient {
  return {
    read: () => Promise.resolve(state),
    pods: () => Promise.resolve([]),
    scale: (_resource: unknown, replicas: number) => {
      scaled.push(replicas);
      return Promise.resolve();
    },
  } as unknown as TargetClient;
}

const cpuSpec = { type: "Resource", resource: { name: "cpu", target: { type: "Utilization" } } };
const forbidden: GatherResult = {
  metrics: [],
  failures: [
    {
      spec: cpuSpec,
      error: new KubernetesMetricError("MetricsApiForbidden", "Resource metric cpu: forbidden"),
    },
  ],
};

describe("runCycle", () => {
  test("hands kubernetesMetrics to the metric stage and scales to the evaluation", async () => {
    const { stages, inputs } = recordingStages({ metric: "7", evaluate: '{"targetReplicas": 4}' });
    const scaled: number[] = [];
    const metric = { current_replicas: 2, spec: cpuSpec } as unknown as GatherResult["metrics"][number];
    const ctx: CycleContext = {
      config: config({ kubernetesMetricSpecs: [cpuSpec] }),
      target: fakeTarget(scaled),
      stages,
      log,
      now: () => 1_000_000,
      kubernetesMetrics: () => Promise.resolve({ metrics: [metric], failures: [] }),
    };
    const outcome = await runCycle(ctx, { history: emptyHistory() }, "scaler");
    assert.deepEqual(inputs.metric, [
      { resource: state.object, runType: "scaler", kubernetesMetrics: [metric] },
    ]);
    assert.deepEqual(inputs.evaluate, [
      { metrics: [{ resource: "web", value: "7" }], resource: state.object, runType: "scaler" },
    ]);
    assert.deepEqual(scaled, [4]);
    assert.equal(outcome.scaled, true);
  });

  test("with state.enabled the stages get state, evaluate's new one is kept, and a dry run keeps none", async () => {
    const { stages, inputs } = recordingStages({
      metric: "7",
      evaluate: '{"targetReplicas": 2, "state": {"seen": 1}}',
    });
    const ctx: CycleContext = {
      config: config({ state: { enabled: true } }),
      target: fakeTarget([]),
      stages,
      log,
      now: () => 0,
    };
    const cycleState = { history: emptyHistory(), userState: null as unknown };
    await runCycle(ctx, cycleState, "api_dry_run", true);
    assert.equal(cycleState.userState, null);
    await runCycle(ctx, cycleState, "scaler");
    assert.deepEqual(cycleState.userState, { seen: 1 });
    await runCycle(ctx, cycleState, "scaler");
    const states = (list: unknown[] | undefined) => list?.map((i) => (i as { state: unknown }).state);
    assert.deepEqual(states(inputs.evaluate), [null, null, { seen: 1 }]);
    assert.deepEqual(states(inputs.metric), [null, null, { seen: 1 }]);
  });

  test("a Kubernetes metric that fails is left out, and the run goes on", async () => {
    const { stages, inputs } = recordingStages({ metric: "1", evaluate: '{"targetReplicas": 2}' });
    const ctx: CycleContext = {
      config: config({ kubernetesMetricSpecs: [cpuSpec] }),
      target: fakeTarget([]),
      stages,
      log,
      now: () => 0,
      kubernetesMetrics: () => Promise.resolve(forbidden),
    };
    const outcome = await runCycle(ctx, { history: emptyHistory() }, "scaler");
    assert.deepEqual((inputs.metric?.[0] as { kubernetesMetrics: unknown[] }).kubernetesMetrics, []);
    assert.equal(outcome.scaled, false);
  });

  test("with requireKubernetesMetrics a failure fails the run with the HPA's reason, before any stage", async () => {
    const { stages, inputs } = recordingStages({ metric: "1", evaluate: '{"targetReplicas": 9}' });
    const scaled: number[] = [];
    const ctx: CycleContext = {
      config: config({ kubernetesMetricSpecs: [cpuSpec], requireKubernetesMetrics: true }),
      target: fakeTarget(scaled),
      stages,
      log,
      now: () => 0,
      kubernetesMetrics: () => Promise.resolve(forbidden),
    };
    await assert.rejects(runCycle(ctx, { history: emptyHistory() }, "scaler"), (err: unknown) => {
      assert.ok(err instanceof KubernetesMetricsError);
      assert.equal(err.reason, "FailedGetResourceMetric");
      assert.match(err.message, /Resource metric cpu: forbidden/);
      return true;
    });
    assert.equal(inputs.metric, undefined);
    assert.deepEqual(scaled, []);
  });

  test("before a scale-down, the Pods evaluate named get their deletion cost, then /scale is written", async () => {
    const { stages } = recordingStages({
      metric: "1",
      evaluate: '{"targetReplicas": 1, "podsToRemove": ["web-b"]}',
    });
    const calls: string[] = [];
    const owner = { apiVersion: "apps/v1", kind: "ReplicaSet", name: "web-h1", uid: "u", controller: true };
    const podOf = (name: string) => ({
      metadata: { name, labels: { "pod-template-hash": "h1" }, ownerReferences: [owner] },
    });
    const target = {
      read: () => Promise.resolve(state),
      pods: () => Promise.resolve([podOf("web-a"), podOf("web-b")]),
      setDeletionCost: (pod: string, cost: string | null) => {
        calls.push(`cost ${pod} ${cost}`);
        return Promise.resolve();
      },
      scale: (_r: unknown, replicas: number) => {
        calls.push(`scale ${replicas}`);
        return Promise.resolve();
      },
    } as unknown as TargetClient;
    const cycleState = { history: emptyHistory() };
    const ctx: CycleContext = { config: config(), target, stages, log, now: () => 0 };
    const outcome = await runCycle(ctx, cycleState, "scaler");
    assert.deepEqual(calls, ["cost web-b -1", "scale 1"]);
    assert.deepEqual(outcome.deletionCosts, { set: ["web-b"], cleared: [], warnings: [] });
    assert.deepEqual(cycleState, { ...cycleState, costMarked: ["web-b"] });
  });

  test("in per-pod mode the costs use the Pods the metric stage ran for: one list, not two", async () => {
    const { stages } = recordingStages({
      metric: "1",
      evaluate: '{"targetReplicas": 1, "podsToRemove": ["web-b"]}',
    });
    const owner = { apiVersion: "apps/v1", kind: "ReplicaSet", name: "web-h1", uid: "u", controller: true };
    const podOf = (name: string) => ({
      metadata: { name, labels: { "pod-template-hash": "h1" }, ownerReferences: [owner] },
    });
    let listed = 0;
    const costs: string[] = [];
    const target = {
      read: () => Promise.resolve(state),
      pods: () => {
        listed++;
        return Promise.resolve([podOf("web-a"), podOf("web-b")]);
      },
      setDeletionCost: (pod: string) => {
        costs.push(pod);
        return Promise.resolve();
      },
      scale: () => Promise.resolve(),
    } as unknown as TargetClient;
    const ctx: CycleContext = { config: config({ runMode: "per-pod" }), target, stages, log, now: () => 0 };
    await runCycle(ctx, { history: emptyHistory() }, "scaler");
    assert.deepEqual(costs, ["web-b"]);
    assert.equal(listed, 1);
  });

  test("a cost that cannot be written is a warning naming the flag, and the scale goes ahead", async () => {
    const { KubeApiError } = await import("../kube/http.ts");
    const { stages } = recordingStages({
      metric: "1",
      evaluate: '{"targetReplicas": 1, "podsToRemove": ["web-b"]}',
    });
    const scaled: number[] = [];
    const owner = { apiVersion: "apps/v1", kind: "ReplicaSet", name: "web-h1", uid: "u", controller: true };
    const target = {
      read: () => Promise.resolve(state),
      pods: () =>
        Promise.resolve([
          { metadata: { name: "web-b", labels: { "pod-template-hash": "h1" }, ownerReferences: [owner] } },
        ]),
      setDeletionCost: () => Promise.reject(new KubeApiError("PATCH", "/api/v1/pods/web-b", 403, undefined)),
      scale: (_r: unknown, replicas: number) => {
        scaled.push(replicas);
        return Promise.resolve();
      },
    } as unknown as TargetClient;
    const ctx: CycleContext = { config: config(), target, stages, log, now: () => 0 };
    const outcome = await runCycle(ctx, { history: emptyHistory() }, "scaler");
    assert.deepEqual(scaled, [1]);
    assert.match(outcome.deletionCosts?.warnings[0] ?? "", /set roleRequiresPodDeletionCost: true/);
  });

  test("without podsToRemove and nothing marked, no Pods are listed", async () => {
    const { stages } = recordingStages({ metric: "1", evaluate: '{"targetReplicas": 1}' });
    let listed = 0;
    const target = {
      read: () => Promise.resolve(state),
      pods: () => {
        listed++;
        return Promise.resolve([]);
      },
      scale: () => Promise.resolve(),
    } as unknown as TargetClient;
    const outcome = await runCycle(
      { config: config(), target, stages, log, now: () => 0 },
      { history: emptyHistory() },
      "scaler",
    );
    assert.equal(listed, 0);
    assert.equal(outcome.deletionCosts, undefined);
  });

  test("a dry run decides but neither scales nor remembers", async () => {
    const { stages } = recordingStages({ metric: "1", evaluate: '{"targetReplicas": 5}' });
    const scaled: number[] = [];
    const cycleState = { history: emptyHistory() };
    const ctx: CycleContext = { config: config(), target: fakeTarget(scaled), stages, log, now: () => 0 };
    const outcome = await runCycle(ctx, cycleState, "api_dry_run", true);
    assert.equal(outcome.decision.replicas, 5);
    assert.deepEqual(scaled, []);
    assert.deepEqual(cycleState.history, emptyHistory());
  });
});

describe("parseEvaluation", () => {
  test("reads targetReplicas and ignores other keys", () => {
    assert.deepEqual(parseEvaluation('{"targetReplicas": 3, "note": "x"}'), { targetReplicas: 3 });
  });
  test("reads podsToRemove, in order", () => {
    assert.deepEqual(parseEvaluation('{"targetReplicas": 1, "podsToRemove": ["b", "a"]}'), {
      targetReplicas: 1,
      podsToRemove: ["b", "a"],
    });
    assert.deepEqual(parseEvaluation('{"targetReplicas": 1, "podsToRemove": null}'), { targetReplicas: 1 });
  });
  for (const [value, message] of [
    ['"web-a"', /podsToRemove must be a list of Pod names/],
    ['["web-a", 3]', /podsToRemove\[1\] is not a Pod name/],
    ['[""]', /podsToRemove\[0\] is not a Pod name/],
    [
      JSON.stringify(Array.from({ length: 1001 }, (_, i) => `p${i}`)),
      /podsToRemove has 1001 names; at most 1000/,
    ],
  ] as const) {
    test(`refuses podsToRemove ${value.slice(0, 20)}, naming the entry`, () => {
      assert.throws(() => parseEvaluation(`{"targetReplicas": 1, "podsToRemove": ${value}}`), message);
    });
  }
  for (const output of [
    "",
    "3",
    "{}",
    '{"targetReplicas": -1}',
    '{"targetReplicas": 2.5}',
    '{"targetReplicas": "3"}',
  ]) {
    test(`refuses ${JSON.stringify(output)}`, () => {
      assert.throws(() => parseEvaluation(output), StageError);
    });
  }
});

describe("Autoscaler.stop", () => {
  test("aborts the running stage, writes no scale, and refuses queued runs", async () => {
    const { Autoscaler } = await import("./autoscaler.ts");
    const { systemClock } = await import("../lib/clock.ts");
    let started!: () => void;
    const running = new Promise<void>((resolve) => (started = resolve));
    const runners: Partial<Record<StageName, StageRunner>> = {
      metric: { run: () => Promise.resolve("1") },
      // An evaluate stage that only ends when it is told to stop.
      evaluate: {
        run: (_input, signal) =>
          new Promise((_resolve, reject) => {
            started();
            signal?.addEventListener("abort", () => {
              reject(new Error("aborted"));
            });
          }),
      },
    };
    const scaled: number[] = [];
    const autoscaler = new Autoscaler({
      ctx: {
        config: config(),
        target: fakeTarget(scaled),
        stages: new Stages(runners, log),
        log,
        now: () => 0,
      },
      clock: systemClock,
      history: emptyHistory(),
    });
    const run = autoscaler.run("scaler");
    const queued = autoscaler.run("api");
    await running;
    await autoscaler.stop();
    await assert.rejects(run, /aborted/);
    await assert.rejects(queued, /shutting down/);
    assert.deepEqual(scaled, []);
  });
});

describe("Autoscaler runs from the REST API", () => {
  test("one may wait behind the running run; a further one is refused, never queued", async () => {
    const { Autoscaler, BusyError } = await import("./autoscaler.ts");
    const { systemClock } = await import("../lib/clock.ts");
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let evaluations = 0;
    const runners: Partial<Record<StageName, StageRunner>> = {
      metric: { run: () => Promise.resolve("1") },
      evaluate: {
        run: async () => {
          evaluations++;
          await gate;
          return '{"targetReplicas": 2}';
        },
      },
    };
    const autoscaler = new Autoscaler({
      ctx: { config: config(), target: fakeTarget([]), stages: new Stages(runners, log), log, now: () => 0 },
      clock: systemClock,
      history: emptyHistory(),
    });
    const queueing = { refuseIfQueued: true };
    const running = autoscaler.run("scaler");
    const waiting = autoscaler.run("api_dry_run", true, queueing);
    await assert.rejects(autoscaler.run("api_dry_run", true, queueing), BusyError);
    await assert.rejects(autoscaler.metrics("api_dry_run", queueing), BusyError);
    release();
    await running;
    await waiting;
    assert.equal(evaluations, 2);
    // Once nothing waits, the API may run again.
    await autoscaler.run("api_dry_run", true, queueing);
    assert.equal(evaluations, 3);
  });
});
