import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { Behavior } from "../api/autoscaler-config.ts";
import { HISTORY_LIMITS, type PersistedHistory } from "../api/custom-pod-autoscaler.ts";
import { parseEvaluation } from "./cycle.ts";
import { decide, emptyHistory, recordScale, type History } from "./decide/decide.ts";
import {
  fromPersisted,
  historyToWrite,
  horizonSeconds,
  targetKey,
  TIME_ONLY_REFRESH_MS,
  toPersisted,
} from "./durable.ts";
import { StageError } from "./stages.ts";

const T0 = Date.UTC(2026, 11, 3);
const TARGET = targetKey({ apiVersion: "apps/v1", kind: "Deployment", name: "web" });

/** A small deterministic generator, so a failure names its seed. */
function rng(seed: number): () => number {
  let x = seed;
  return () => {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    return x / 2 ** 31;
  };
}

interface Setup {
  downscaleStabilization: number;
  behavior?: Behavior;
}

/** Runs decide over `evaluations`, one run every 15 s from T0, scaling as decided; returns the history and replicas. */
function runs(
  setup: Setup,
  evaluations: number[],
  start: { history: History; current: number; from: number },
) {
  let { history, current } = start;
  const decisions: number[] = [];
  evaluations.forEach((evaluation, i) => {
    const now = start.from + i * 15_000;
    const d = decide({
      evaluation,
      current,
      minReplicas: 1,
      maxReplicas: 20,
      now,
      downscaleStabilizationSeconds: setup.downscaleStabilization,
      ...(setup.behavior ? { behavior: setup.behavior } : {}),
      history,
    });
    history = d.history;
    if (d.scale) {
      history = recordScale(history, now, current, d.replicas);
      current = d.replicas;
    }
    decisions.push(d.replicas);
  });
  return { history, current, decisions };
}

function persist(setup: Setup, history: History, now: number, userState: unknown = null): PersistedHistory {
  return toPersisted({
    durable: { history, userState },
    target: TARGET,
    horizon: horizonSeconds(setup),
    now,
    stateEnabled: true,
  });
}

describe("durable history: a replaced autoscaler decides as the old one would have", () => {
  const setups: [string, Setup][] = [
    ["the original's window", { downscaleStabilization: 120 }],
    ["behavior's defaults", { downscaleStabilization: 0, behavior: {} }],
    [
      "behavior with policies and an up window",
      {
        downscaleStabilization: 0,
        behavior: {
          scaleUp: {
            stabilizationWindowSeconds: 60,
            policies: [{ type: "Pods", value: 2, periodSeconds: 60 }],
          },
          scaleDown: {
            stabilizationWindowSeconds: 90,
            policies: [{ type: "Percent", value: 50, periodSeconds: 120 }],
          },
        },
      },
    ],
  ];
  for (const [name, setup] of setups) {
    for (const seed of [1, 2, 3, 4, 5]) {
      test(`${name}, seed ${seed}`, () => {
        const random = rng(seed);
        const evaluations = Array.from({ length: 80 }, () => 1 + Math.floor(random() * 15));
        const cut = 20 + Math.floor(random() * 40);
        const before = runs(setup, evaluations.slice(0, cut), {
          history: emptyHistory(),
          current: 3,
          from: T0,
        });
        const replacedAt = T0 + cut * 15_000 - 5_000;
        // Through JSON, as the status is.
        const persisted = JSON.parse(
          JSON.stringify(persist(setup, before.history, replacedAt)),
        ) as PersistedHistory;
        const restored = fromPersisted(persisted, TARGET);
        assert.ok(restored.kind === "loaded");
        const rest = evaluations.slice(cut);
        const from = T0 + cut * 15_000;
        const kept = runs(setup, rest, { history: before.history, current: before.current, from });
        const reloaded = runs(setup, rest, {
          history: restored.durable.history,
          current: before.current,
          from,
        });
        assert.deepEqual(reloaded.decisions, kept.decisions);
      });
    }
  }

  test("the scale-up window's lowest comes back too", () => {
    const setup = {
      downscaleStabilization: 0,
      behavior: {
        scaleUp: { stabilizationWindowSeconds: 300 },
        scaleDown: { stabilizationWindowSeconds: 0 },
      },
    };
    const before = runs(setup, [5, 2, 3, 3], { history: emptyHistory(), current: 5, from: T0 });
    assert.deepEqual(before.decisions, [5, 2, 2, 2]);
    const next = { current: before.current, from: T0 + 4 * 15_000 };
    const kept = runs(setup, [10, 10], { history: before.history, ...next }).decisions;
    const restored = fromPersisted(persist(setup, before.history, next.from - 1), TARGET);
    assert.ok(restored.kind === "loaded");
    assert.deepEqual(runs(setup, [10, 10], { history: restored.durable.history, ...next }).decisions, kept);
    assert.notDeepEqual(runs(setup, [10, 10], { history: emptyHistory(), ...next }).decisions, kept);
  });

  test("a new Pod with an empty history would have scaled down at once (what the test above guards)", () => {
    const setup = { downscaleStabilization: 300 };
    const before = runs(setup, [5, 5, 5, 1], { history: emptyHistory(), current: 5, from: T0 });
    assert.deepEqual(before.decisions, [5, 5, 5, 5]);
    const next = { current: before.current, from: T0 + 4 * 15_000 };
    assert.deepEqual(runs(setup, [1], { history: emptyHistory(), ...next }).decisions, [1]);
    const restored = fromPersisted(persist(setup, before.history, next.from - 1), TARGET);
    assert.ok(restored.kind === "loaded");
    assert.deepEqual(runs(setup, [1], { history: restored.durable.history, ...next }).decisions, [5]);
  });
});

describe("toPersisted", () => {
  test("without a window or policies nothing is kept, so nothing changes from run to run", () => {
    const setup = { downscaleStabilization: 0 };
    const a = runs(setup, [3, 4, 2], { history: emptyHistory(), current: 3, from: T0 });
    const p = persist(setup, a.history, T0 + 30_000);
    assert.deepEqual(p, { target: TARGET, recommendations: [], scaleUpEvents: [], scaleDownEvents: [] });
  });

  test("only entries a later run can use: older than the window, gone", () => {
    const setup = { downscaleStabilization: 60 };
    const a = runs(setup, [9, 8, 7, 6, 5, 4, 3], { history: emptyHistory(), current: 9, from: T0 });
    const p = persist(setup, a.history, T0 + 6 * 15_000);
    assert.deepEqual(
      p.recommendations?.map((e) => e.replicas),
      [6, 5, 4, 3],
    );
    assert.ok(p.recommendations.every((e) => Date.parse(e.at) + 60_000 > T0 + 90_000));
  });

  test("at most HISTORY_LIMITS.recommendations entries, the newest", () => {
    const n = HISTORY_LIMITS.recommendations + 10;
    const highest = Array.from({ length: n }, (_, i) => ({ at: T0 + i, replicas: n - i }));
    const history = { ...emptyHistory(), recommendations: { highest, lowest: [] } };
    const p = persist({ downscaleStabilization: 3600 }, history, T0 + n);
    assert.equal(p.recommendations?.length, HISTORY_LIMITS.recommendations);
    assert.equal(p.recommendations.at(-1)?.replicas, 1);
  });

  test("the stages' state as JSON text, only when state is on", () => {
    const durable = { history: emptyHistory(), userState: { model: [1, 2], note: "é" } };
    const on = toPersisted({
      durable,
      target: TARGET,
      horizon: { window: 0, period: 0 },
      now: T0,
      stateEnabled: true,
    });
    assert.equal(on.state, '{"model":[1,2],"note":"é"}');
    const off = toPersisted({
      durable,
      target: TARGET,
      horizon: { window: 0, period: 0 },
      now: T0,
      stateEnabled: false,
    });
    assert.equal(off.state, undefined);
  });
});

describe("fromPersisted", () => {
  test("nothing in status: nothing to load", () => {
    assert.deepEqual(fromPersisted(undefined, TARGET), { kind: "none" });
  });

  test("a history for another target is dropped, naming both", () => {
    const other = targetKey({ apiVersion: "apps/v1", kind: "Deployment", name: "old" });
    const r = fromPersisted(
      { target: other, recommendations: [{ at: new Date(T0).toISOString(), replicas: 4 }] },
      TARGET,
    );
    assert.ok(r.kind === "dropped");
    assert.match(r.reason, /apps\/v1\/Deployment\/old.*apps\/v1\/Deployment\/web/);
  });

  test("state comes back as the value evaluate returned", () => {
    const r = fromPersisted({ target: TARGET, state: '{"n":3}' }, TARGET);
    assert.ok(r.kind === "loaded");
    assert.deepEqual(r.durable.userState, { n: 3 });
  });

  test("unreadable times or state: dropped, with what was unreadable", () => {
    const bad = fromPersisted(
      { target: TARGET, recommendations: [{ at: "yesterday", replicas: 2 }] },
      TARGET,
    );
    assert.match(bad.kind === "dropped" ? bad.reason : "", /recommendation time "yesterday"/);
    const state = fromPersisted({ target: TARGET, state: "{" }, TARGET);
    assert.match(state.kind === "dropped" ? state.reason : "", /state \(not JSON\)/);
  });
});

describe("historyToWrite: only what decisions read is written at once", () => {
  const h = (replicas: number[], at: number): PersistedHistory => ({
    target: TARGET,
    recommendations: replicas.map((r, i) => ({ at: new Date(at + i).toISOString(), replicas: r })),
    scaleUpEvents: [],
    scaleDownEvents: [],
  });

  test("times only, written a moment ago: the written one stays", () => {
    const written = h([5, 3], T0);
    const next = h([5, 3], T0 + 15_000);
    assert.equal(historyToWrite({ written, next, writtenAt: T0, now: T0 + 15_000 }), written);
  });

  test("times only, but the last write is TIME_ONLY_REFRESH_MS old: the new one", () => {
    const written = h([5, 3], T0);
    const next = h([5, 3], T0 + TIME_ONLY_REFRESH_MS);
    assert.equal(historyToWrite({ written, next, writtenAt: T0, now: T0 + TIME_ONLY_REFRESH_MS }), next);
  });

  test("a new value, a scale event or a new state: at once", () => {
    const written = h([5, 3], T0);
    for (const next of [
      h([5, 2], T0 + 1),
      { ...h([5, 3], T0), scaleDownEvents: [{ at: new Date(T0).toISOString(), change: 1 }] },
      { ...h([5, 3], T0), state: "1" },
    ])
      assert.equal(historyToWrite({ written, next, writtenAt: T0, now: T0 + 1000 }), next);
  });

  test("nothing written yet: the new one", () => {
    const next = h([1], T0);
    assert.equal(historyToWrite({ written: undefined, next, writtenAt: undefined, now: T0 }), next);
  });
});

describe("evaluate's state", () => {
  test("read only when state is on; left out, there is no state key; null clears", () => {
    assert.deepEqual(parseEvaluation('{"targetReplicas":2,"state":{"a":1}}'), { targetReplicas: 2 });
    assert.deepEqual(parseEvaluation('{"targetReplicas":2,"state":{"a":1}}', 100), {
      targetReplicas: 2,
      state: { a: 1 },
    });
    assert.deepEqual(parseEvaluation('{"targetReplicas":2}', 100), { targetReplicas: 2 });
    assert.deepEqual(parseEvaluation('{"targetReplicas":2,"state":null}', 100), {
      targetReplicas: 2,
      state: null,
    });
  });

  test("a state larger than state.maxBytes fails the run, naming both sizes", () => {
    assert.throws(
      () => parseEvaluation(JSON.stringify({ targetReplicas: 1, state: "x".repeat(20) }), 16),
      (err: unknown) =>
        err instanceof StageError &&
        err.stage === "evaluate" &&
        /takes 22 bytes as JSON, more than state.maxBytes \(16\)/.test(err.message),
    );
  });
});
