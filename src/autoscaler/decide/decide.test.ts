import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { Behavior, ScalingRules } from "../../api/autoscaler-config.ts";
import { DEFAULT_SCALE_DOWN, DEFAULT_SCALE_UP, resolveBehavior } from "./behavior.ts";
import { NO_RECOMMENDATIONS, recommendationsOf } from "./window.ts";
import {
  decide,
  emptyHistory,
  recordScale,
  type Decision,
  type DecisionInput,
  type History,
  type ScaleEvent,
} from "./decide.ts";

const T0 = Date.UTC(2025, 0, 1);

function at(seconds: number): number {
  return T0 + seconds * 1000;
}

function input(overrides: Partial<DecisionInput> = {}): DecisionInput {
  return {
    evaluation: 5,
    current: 5,
    minReplicas: 1,
    maxReplicas: 10,
    now: T0,
    downscaleStabilizationSeconds: 0,
    history: emptyHistory(),
    ...overrides,
  };
}

/** Recommendations given as [seconds before T0, replicas]. */
function recommended(...entries: [secondsAgo: number, replicas: number][]): History {
  return {
    ...emptyHistory(),
    recommendations: recommendationsOf(
      entries.map(([ago, replicas]) => ({ at: at(-ago), replicas })).sort((a, b) => a.at - b.at),
    ),
  };
}

/**
 * Scale events spread over the last period as the HPA's unit tests place them
 * (generateEventsUniformDistribution): one per equal segment, at its centre.
 */
function spread(changes: number[], periodSeconds: number): ScaleEvent[] {
  const segment = periodSeconds / changes.length;
  return changes.map((change, i) => ({ at: at(-(periodSeconds - segment * (i + 1) + segment / 2)), change }));
}

function pods(value: number, periodSeconds: number): NonNullable<ScalingRules["policies"]>[number] {
  return { type: "Pods", value, periodSeconds };
}

function percent(value: number, periodSeconds: number): NonNullable<ScalingRules["policies"]>[number] {
  return { type: "Percent", value, periodSeconds };
}

interface Run {
  at: number;
  evaluation: number;
}

/**
 * Runs decide at each time, writing the scale (and recording it) whenever the
 * decision says so, as the loop does. Returns the replicas after each run.
 */
function simulate(base: DecisionInput, runs: Run[]): { replicas: number[]; decisions: Decision[] } {
  let history = base.history;
  let current = base.current;
  const decisions: Decision[] = [];
  for (const run of runs) {
    const now = at(run.at);
    const decision = decide({ ...base, current, now, evaluation: run.evaluation, history });
    history = decision.history;
    if (decision.scale) {
      history = recordScale(history, now, current, decision.replicas);
      current = decision.replicas;
    }
    decisions.push(decision);
  }
  return { replicas: decisions.map((d) => d.replicas), decisions };
}

function nth(decisions: Decision[], index: number): Decision {
  const decision = decisions[index];
  assert.ok(decision, `no decision #${index}`);
  return decision;
}

interface Case {
  name: string;
  input: DecisionInput;
  replicas: number;
  scale?: boolean;
  limited?: boolean;
  reason?: string | RegExp;
}

function check(c: Case): void {
  const decision = decide(c.input);
  assert.equal(decision.replicas, c.replicas, decision.reason);
  assert.equal(decision.trace.final, decision.replicas);
  if (c.scale !== undefined) assert.equal(decision.scale, c.scale);
  if (c.limited !== undefined) assert.equal(decision.limited, c.limited);
  if (typeof c.reason === "string") assert.equal(decision.reason, c.reason);
  if (c.reason instanceof RegExp) assert.match(decision.reason, c.reason);
}

describe("decide without behavior (the original's rules)", () => {
  const cases: Case[] = [
    {
      name: "an evaluation above maxReplicas is clamped to maxReplicas",
      input: input({ evaluation: 15, current: 5, maxReplicas: 10 }),
      replicas: 10,
      scale: true,
      limited: true,
      reason: "clamped to maxReplicas 10",
    },
    {
      name: "an evaluation below minReplicas is raised to minReplicas",
      input: input({ evaluation: 0, current: 5, minReplicas: 2 }),
      replicas: 2,
      scale: true,
      limited: true,
      reason: "clamped to minReplicas 2",
    },
    {
      name: "an evaluation within range is used as it is",
      input: input({ evaluation: 7, current: 5 }),
      replicas: 7,
      scale: true,
      limited: false,
      reason: "scale from 5 to 7",
    },
    {
      name: "an evaluation equal to the current replicas does not scale",
      input: input({ evaluation: 5, current: 5 }),
      replicas: 5,
      scale: false,
      limited: false,
      reason: "no change: 5 replicas",
    },
    {
      name: "a target at 0 replicas with minReplicas 1 is left alone",
      input: input({ evaluation: 4, current: 0, minReplicas: 1 }),
      replicas: 0,
      scale: false,
      limited: false,
      reason: /autoscaling disabled.*0 replicas.*minReplicas is 1/,
    },
    {
      name: "a target at 0 replicas is left alone in behavior mode too",
      input: input({ evaluation: 4, current: 0, minReplicas: 1, behavior: {} }),
      replicas: 0,
      scale: false,
      reason: /autoscaling disabled/,
    },
    {
      name: "minReplicas 0 allows scaling from zero",
      input: input({ evaluation: 3, current: 0, minReplicas: 0 }),
      replicas: 3,
      scale: true,
    },
    {
      name: "minReplicas 0 allows scaling to zero",
      input: input({ evaluation: 0, current: 2, minReplicas: 0 }),
      replicas: 0,
      scale: true,
      limited: false,
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      check(c);
    });
  }

  test("a disabled run keeps the history as it was", () => {
    const history = recommended([10, 4]);
    const decision = decide(
      input({ current: 0, minReplicas: 1, downscaleStabilizationSeconds: 300, history }),
    );
    assert.equal(decision.history, history);
    assert.deepEqual(decision.trace, {
      raw: 5,
      afterClamp: 0,
      afterStabilization: 0,
      afterPolicies: 0,
      final: 0,
    });
  });
});

describe("the original's downscale stabilisation", () => {
  test("holds a scale-down inside the window and releases it once the window has passed", () => {
    const { replicas, decisions } = simulate(input({ current: 5, downscaleStabilizationSeconds: 300 }), [
      { at: 0, evaluation: 5 },
      { at: 60, evaluation: 2 },
      // The original drops only entries before the cutoff: one exactly 300s old still counts.
      { at: 300, evaluation: 2 },
      { at: 301, evaluation: 2 },
    ]);
    assert.deepEqual(replicas, [5, 5, 5, 2]);
    assert.equal(
      nth(decisions, 1).reason,
      "held by downscale stabilisation: highest evaluation in the last 300s = 5",
    );
    assert.equal(nth(decisions, 1).scale, false);
    assert.equal(nth(decisions, 1).limited, true);
    assert.equal(
      nth(decisions, 2).reason,
      "held by downscale stabilisation: highest evaluation in the last 300s = 5",
    );
    assert.equal(nth(decisions, 3).scale, true);
  });

  const cases: Case[] = [
    {
      name: "never holds a scale-up",
      input: input({
        evaluation: 6,
        current: 4,
        downscaleStabilizationSeconds: 300,
        history: recommended([60, 3], [30, 4]),
      }),
      replicas: 6,
      limited: false,
    },
    {
      name: "a window of 0 holds nothing",
      input: input({
        evaluation: 2,
        current: 5,
        downscaleStabilizationSeconds: 0,
        history: recommended([1, 9]),
      }),
      replicas: 2,
      limited: false,
    },
    {
      name: "entries older than the window no longer count",
      input: input({
        evaluation: 3,
        current: 5,
        downscaleStabilizationSeconds: 300,
        history: recommended([400, 9], [100, 4]),
      }),
      replicas: 4,
      reason: "held by downscale stabilisation: highest evaluation in the last 300s = 4",
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      check(c);
    });
  }

  test("keeps clamped targets within the window and drops older ones and scale events", () => {
    const history: History = {
      ...recommended([400, 9], [100, 4]),
      scaleUpEvents: [{ at: at(-10), change: 2 }],
    };
    const decision = decide(
      input({ evaluation: 50, maxReplicas: 10, downscaleStabilizationSeconds: 300, history }),
    );
    assert.deepEqual(decision.history, {
      // 4 can no longer be the highest of any window that holds it: 10 came later.
      recommendations: {
        highest: [{ at: T0, replicas: 10 }],
        lowest: [
          { at: at(-100), replicas: 4 },
          { at: T0, replicas: 10 },
        ],
      },
      scaleUpEvents: [],
      scaleDownEvents: [],
    });
  });
});

describe("behavior defaults (the HPA's)", () => {
  test("an empty behavior takes the HPA's defaults for both directions", () => {
    assert.deepEqual(resolveBehavior({}), {
      scaleUp: {
        stabilizationWindowSeconds: 0,
        selectPolicy: "Max",
        policies: [percent(100, 15), pods(4, 15)],
      },
      scaleDown: {
        stabilizationWindowSeconds: 300,
        selectPolicy: "Max",
        policies: [percent(100, 15)],
      },
    });
  });

  test("missing fields are filled one by one, and given policies replace the default list", () => {
    const resolved = resolveBehavior({
      scaleUp: { policies: [pods(2, 60)] },
      scaleDown: { selectPolicy: "Min" },
    });
    assert.deepEqual(resolved.scaleUp, { ...DEFAULT_SCALE_UP, policies: [pods(2, 60)] });
    assert.deepEqual(resolved.scaleDown, { ...DEFAULT_SCALE_DOWN, selectPolicy: "Min" });
  });

  const cases: Case[] = [
    {
      // horizontal_test.go "scaleUp with default behavior"
      name: "the default scale-up doubles 10 replicas in one step (100% beats 4 pods)",
      input: input({ evaluation: 50, current: 10, maxReplicas: 1000, behavior: {} }),
      replicas: 20,
      limited: true,
      reason: "scale-up limited by policy Percent 100% per 15s to 20",
    },
    {
      name: "the default scale-up adds 4 to 1 replica (4 pods beat 100%)",
      input: input({ evaluation: 10, current: 1, maxReplicas: 1000, behavior: {} }),
      replicas: 5,
      reason: "scale-up limited by policy Pods 4 per 15s to 5",
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      check(c);
    });
  }

  test("the default scale-down waits for the 300s window, then drops straight to the evaluation", () => {
    const { replicas, decisions } = simulate(input({ current: 10, behavior: {} }), [
      { at: 0, evaluation: 8 },
      { at: 60, evaluation: 3 },
      { at: 299, evaluation: 3 },
      // The HPA counts only recommendations strictly inside the window.
      { at: 300, evaluation: 3 },
    ]);
    assert.deepEqual(replicas, [8, 8, 8, 3]);
    assert.equal(
      nth(decisions, 1).reason,
      "held at 8 by scale-down stabilization: highest recommendation in the last 300s = 8",
    );
    assert.equal(nth(decisions, 1).scale, false);
  });

  test("behavior replaces the original's downscaleStabilization", () => {
    const decision = decide(
      input({
        evaluation: 2,
        current: 5,
        downscaleStabilizationSeconds: 600,
        history: recommended([100, 5]),
        behavior: { scaleDown: { stabilizationWindowSeconds: 60 } },
      }),
    );
    assert.equal(decision.replicas, 2);
  });
});

describe("behavior: the examples of the Kubernetes HPA documentation", () => {
  const podsAndPercentDown: Behavior = { scaleDown: { policies: [pods(4, 60), percent(10, 60)] } };

  test("scaling 80 replicas down to 10 with Pods 4 and Percent 10 per 60s removes 8 first (10% beats 4)", () => {
    check({
      name: "",
      input: input({ evaluation: 10, current: 80, maxReplicas: 100, behavior: podsAndPercentDown }),
      replicas: 72,
      scale: true,
      limited: true,
      reason: "scale-down limited by policy Percent 10% per 60s to 72",
    });
  });

  test("then one step per period: 72 loses 8 (7.2 rounded up), and below 40 replicas 4 pods at a time", () => {
    const runs = [0, 30, 61, 122, 183, 244, 305, 366, 427, 488, 549, 610, 671, 732, 793, 854].map((s) => ({
      at: s,
      evaluation: 10,
    }));
    const { replicas } = simulate(
      input({ current: 80, maxReplicas: 100, behavior: podsAndPercentDown }),
      runs,
    );
    // 30s: the period's budget (8) is spent, so it holds at 72.
    assert.deepEqual(replicas, [72, 72, 64, 57, 51, 45, 40, 36, 32, 28, 24, 20, 16, 12, 10, 10]);
  });

  test("change downscale stabilization window: 60s", () => {
    const { replicas } = simulate(
      input({ current: 10, behavior: { scaleDown: { stabilizationWindowSeconds: 60 } } }),
      [
        { at: 0, evaluation: 10 },
        { at: 30, evaluation: 4 },
        { at: 61, evaluation: 4 },
      ],
    );
    assert.deepEqual(replicas, [10, 10, 4]);
  });

  const limitRate: Behavior = { scaleDown: { policies: [percent(10, 60)] } };
  const atMostFive: Behavior = {
    scaleDown: { policies: [percent(10, 60), pods(5, 60)], selectPolicy: "Min" },
  };
  const cases: Case[] = [
    {
      name: "limit scale down rate to 10% per minute: 50 replicas may drop to 45",
      input: input({ evaluation: 1, current: 50, maxReplicas: 100, behavior: limitRate }),
      replicas: 45,
    },
    {
      name: "selectPolicy Min with Percent 10 and Pods 5: 100 replicas lose 5, not 10",
      input: input({ evaluation: 1, current: 100, maxReplicas: 100, behavior: atMostFive }),
      replicas: 95,
      reason: "scale-down limited by policy Pods 5 per 60s to 95",
    },
    {
      name: "selectPolicy Min with Percent 10 and Pods 5: 40 replicas lose 4 (10% is fewer than 5)",
      input: input({ evaluation: 1, current: 40, maxReplicas: 100, behavior: atMostFive }),
      replicas: 36,
      reason: "scale-down limited by policy Percent 10% per 60s to 36",
    },
    {
      name: "selectPolicy Max on the same policies: 100 replicas lose 10",
      input: input({
        evaluation: 1,
        current: 100,
        maxReplicas: 100,
        behavior: { scaleDown: { policies: [percent(10, 60), pods(5, 60)], selectPolicy: "Max" } },
      }),
      replicas: 90,
    },
    {
      name: "disable scale down: selectPolicy Disabled keeps the replicas",
      input: input({ evaluation: 2, current: 10, behavior: { scaleDown: { selectPolicy: "Disabled" } } }),
      replicas: 10,
      scale: false,
      limited: true,
      reason: "scale-down disabled by selectPolicy Disabled",
    },
    {
      name: "disable scale down still scales up",
      input: input({
        evaluation: 12,
        current: 10,
        maxReplicas: 20,
        behavior: { scaleDown: { selectPolicy: "Disabled" } },
      }),
      replicas: 12,
      scale: true,
    },
    {
      name: "disable scale up: selectPolicy Disabled keeps the replicas",
      input: input({ evaluation: 9, current: 3, behavior: { scaleUp: { selectPolicy: "Disabled" } } }),
      replicas: 3,
      scale: false,
      reason: "scale-up disabled by selectPolicy Disabled",
    },
    {
      name: "a Percent 100 per 15s scale-up takes 1 replica to 2",
      input: input({ evaluation: 10, current: 1, behavior: { scaleUp: { policies: [percent(100, 15)] } } }),
      replicas: 2,
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      check(c);
    });
  }
});

describe("behavior: the HPA controller's unit-test cases (horizontal_test.go)", () => {
  const up = (rules: ScalingRules): Behavior => ({ scaleUp: { stabilizationWindowSeconds: 0, ...rules } });
  const down = (rules: ScalingRules): Behavior => ({
    scaleDown: { stabilizationWindowSeconds: 300, ...rules },
  });
  const wide = { minReplicas: 1, maxReplicas: 1000 };
  const cases: Case[] = [
    {
      name: "scaleUp with pods policy larger than percent policy",
      input: input({
        ...wide,
        current: 10,
        evaluation: 500,
        behavior: up({ policies: [pods(100, 60), percent(100, 60)] }),
      }),
      replicas: 110,
    },
    {
      name: "scaleUp with percent policy larger than pods policy",
      input: input({
        ...wide,
        current: 10,
        evaluation: 500,
        behavior: up({ policies: [pods(2, 60), percent(100, 60)] }),
      }),
      replicas: 20,
    },
    {
      name: "scaleUp with pod policy limitation",
      input: input({ ...wide, current: 10, evaluation: 50, behavior: up({ policies: [pods(30, 60)] }) }),
      replicas: 40,
    },
    {
      name: "scaleUp with percent policy limitation",
      input: input({ ...wide, current: 10, evaluation: 50, behavior: up({ policies: [percent(200, 60)] }) }),
      replicas: 30,
    },
    {
      name: "scaleUpLimit is the limit because scaleUpLimit < maxReplicas with user policies (ceil of 3 * 1.01)",
      input: input({
        ...wide,
        maxReplicas: 2000,
        current: 3,
        evaluation: 1000,
        behavior: up({ policies: [percent(1, 60)] }),
      }),
      replicas: 4,
    },
    {
      name: "scaleDown with percent policy larger than pod policy",
      input: input({
        ...wide,
        current: 100,
        evaluation: 2,
        behavior: down({ policies: [pods(20, 60), percent(1, 60)] }),
      }),
      replicas: 80,
    },
    {
      name: "scaleDown with pod policy larger than percent policy",
      input: input({
        ...wide,
        current: 100,
        evaluation: 2,
        behavior: down({ policies: [pods(2, 60), percent(1, 60)] }),
      }),
      replicas: 98,
    },
    {
      name: "scaleDown with spec MinReplicas limitation with large percent policy",
      input: input({
        ...wide,
        minReplicas: 5,
        current: 10,
        evaluation: 2,
        behavior: down({ policies: [percent(100, 60)] }),
      }),
      replicas: 5,
      reason: "clamped to minReplicas 5",
    },
    {
      name: "scaleDown with pod policy limitation",
      input: input({ ...wide, current: 10, evaluation: 2, behavior: down({ policies: [pods(5, 60)] }) }),
      replicas: 5,
    },
    {
      name: "scaleUp with spec MaxReplicas limitation with large pod policy and events",
      input: input({
        ...wide,
        maxReplicas: 200,
        current: 100,
        evaluation: 500,
        behavior: up({ policies: [pods(300, 60)] }),
        history: { ...emptyHistory(), scaleUpEvents: spread([1, 5, 9], 120) },
      }),
      replicas: 200,
      reason: "clamped to maxReplicas 200",
    },
    {
      name: "scaleUp with currentReplicas limitation with a lot of recent scale up events (100 - 15 + 5 < 100)",
      input: input({
        ...wide,
        current: 100,
        evaluation: 500,
        behavior: up({ policies: [pods(5, 120)] }),
        history: { ...emptyHistory(), scaleUpEvents: spread([1, 5, 9], 120) },
      }),
      replicas: 100,
      scale: false,
      limited: true,
    },
    {
      name: "scaleUp with pod policy and previous scale up events (100 - 15 + 150)",
      input: input({
        ...wide,
        current: 100,
        evaluation: 500,
        behavior: up({ policies: [pods(150, 120)] }),
        history: { ...emptyHistory(), scaleUpEvents: spread([1, 5, 9], 120) },
      }),
      replicas: 235,
    },
    {
      name: "scaleUp with percent policy and previous scale up events ((100 - 15) + 200%)",
      input: input({
        ...wide,
        current: 100,
        evaluation: 500,
        behavior: up({ policies: [percent(200, 120)] }),
        history: { ...emptyHistory(), scaleUpEvents: spread([1, 5, 9], 120) },
      }),
      replicas: 255,
    },
    {
      name: "scaleDown with pod policy limitation and previous events (100 + 15 - 5 > 100 holds at 100)",
      input: input({
        ...wide,
        current: 100,
        evaluation: 2,
        behavior: down({ policies: [pods(5, 120)] }),
        history: { ...emptyHistory(), scaleDownEvents: spread([1, 5, 9], 120) },
      }),
      replicas: 100,
      scale: false,
    },
    {
      name: "scaleDown with percent policy limitation and previous events ((100 + 12) - 50%)",
      input: input({
        ...wide,
        current: 100,
        evaluation: 0,
        behavior: down({ policies: [percent(50, 120)] }),
        history: { ...emptyHistory(), scaleDownEvents: spread([2, 4, 6], 120) },
      }),
      replicas: 56,
    },
    {
      name: "scaleDown with previous events preventing further scale down ((100 + 30) - 10% = 117)",
      input: input({
        ...wide,
        current: 100,
        evaluation: 0,
        behavior: down({ policies: [percent(10, 120)] }),
        history: { ...emptyHistory(), scaleDownEvents: spread([10, 10, 10], 120) },
      }),
      replicas: 100,
    },
    {
      name: "scaleDown with previous events still allowing more scale down ((10 + 30) - 1000% < 5)",
      input: input({
        ...wide,
        current: 10,
        evaluation: 5,
        behavior: down({ policies: [percent(1000, 120)] }),
        history: { ...emptyHistory(), scaleDownEvents: spread([10, 10, 10], 120) },
      }),
      replicas: 5,
      limited: false,
    },
    {
      name: "events outside a shorter period do not count (4 events over 120s, policy period 30s)",
      input: input({
        ...wide,
        current: 100,
        evaluation: 200,
        behavior: up({ policies: [pods(1000, 30), percent(100, 60)] }),
        history: { ...emptyHistory(), scaleUpEvents: spread([8, 12, 9, 11], 120) },
      }),
      replicas: 200,
    },
    {
      name: "TestCalculateScaleUpLimitWithScalingRules: Min of Pods 2 and Percent 50 from 1 is 2",
      input: input({
        ...wide,
        current: 1,
        evaluation: 10,
        behavior: up({ selectPolicy: "Min", policies: [pods(2, 60), percent(50, 60)] }),
      }),
      replicas: 2,
    },
    {
      name: "TestCalculateScaleDownLimitWithBehaviors: Min of Pods 2 and Percent 50 from 5 is 3",
      input: input({
        ...wide,
        current: 5,
        evaluation: 1,
        behavior: down({ selectPolicy: "Min", policies: [pods(2, 60), percent(50, 60)] }),
      }),
      replicas: 3,
    },
    {
      name: "simple scale down stabilization (window 180s keeps 5 over 3)",
      input: input({
        ...wide,
        current: 100,
        evaluation: 3,
        history: recommended([120, 4], [60, 5]),
        behavior: { scaleDown: { stabilizationWindowSeconds: 180 } },
      }),
      replicas: 5,
      reason: "held at 5 by scale-down stabilization: highest recommendation in the last 180s = 5",
    },
    {
      name: "simple scale up stabilization (window 300s keeps 4 under 7)",
      input: input({
        ...wide,
        current: 1,
        evaluation: 7,
        history: recommended([120, 4], [60, 5]),
        behavior: { scaleUp: { stabilizationWindowSeconds: 300 } },
      }),
      replicas: 4,
      reason: "held at 4 by scale-up stabilization: lowest recommendation in the last 300s = 4",
    },
    {
      name: "no scale down stabilization with a scale-down window of 0",
      input: input({
        ...wide,
        current: 100,
        evaluation: 3,
        history: recommended([120, 1], [60, 2]),
        behavior: {
          scaleUp: { stabilizationWindowSeconds: 300 },
          scaleDown: { stabilizationWindowSeconds: 0 },
        },
      }),
      replicas: 3,
    },
    {
      name: "scale down stabilization ignores obsolete recommendations",
      input: input({
        ...wide,
        current: 100,
        evaluation: 3,
        history: recommended([600, 10], [60, 4], [120, 5], [540, 9]),
        behavior: { scaleDown: { stabilizationWindowSeconds: 180 } },
      }),
      replicas: 5,
    },
    {
      name: "scale up stabilization ignores obsolete recommendations",
      input: input({
        ...wide,
        current: 1,
        evaluation: 100,
        history: recommended([6000, 10], [60, 6], [120, 5], [180, 9]),
        behavior: { scaleUp: { stabilizationWindowSeconds: 300 } },
      }),
      replicas: 5,
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      check(c);
    });
  }
});

describe("behavior: Percent rounding follows horizontal.go", () => {
  // Scale-up: ceil(start * (1 + value/100)). Scale-down: the remaining replicas
  // are truncated, int32(start * (1 - value/100)), which rounds the number
  // removed up; ceil of the remaining replicas would give 3 and 65 below.
  const cases: Case[] = [
    {
      name: "a scale-up of 10% from 3 rounds 3.3 up to 4",
      input: input({ evaluation: 10, current: 3, behavior: { scaleUp: { policies: [percent(10, 60)] } } }),
      replicas: 4,
    },
    {
      name: "a scale-up of 15% from 10 rounds 11.5 up to 12",
      input: input({
        evaluation: 20,
        current: 10,
        maxReplicas: 20,
        behavior: { scaleUp: { policies: [percent(15, 60)] } },
      }),
      replicas: 12,
    },
    {
      name: "a scale-down of 50% from 5 keeps 2 (2.5 truncated), not 3",
      input: input({ evaluation: 1, current: 5, behavior: { scaleDown: { policies: [percent(50, 60)] } } }),
      replicas: 2,
    },
    {
      name: "a scale-down of 10% from 72 keeps 64 (64.8 truncated), not 65",
      input: input({
        evaluation: 1,
        current: 72,
        maxReplicas: 100,
        behavior: { scaleDown: { policies: [percent(10, 60)] } },
      }),
      replicas: 64,
    },
    {
      // Ours: the HPA never starts from 0; without this a Percent-only policy could never leave it.
      name: "a Percent scale-up from 0 (minReplicas 0) allows one replica",
      input: input({
        evaluation: 5,
        current: 0,
        minReplicas: 0,
        behavior: { scaleUp: { policies: [percent(100, 15)] } },
      }),
      replicas: 1,
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      check(c);
    });
  }
});

describe("behavior: policies over periods with recorded scale events", () => {
  const podsFourPerMinute: Behavior = { scaleUp: { policies: [pods(4, 60)] } };

  test("a second step within the period is limited by the first and allowed once the period has passed", () => {
    const { replicas, decisions } = simulate(
      input({ current: 2, maxReplicas: 50, behavior: podsFourPerMinute }),
      [
        { at: 0, evaluation: 20 },
        { at: 30, evaluation: 20 },
        { at: 59, evaluation: 20 },
        { at: 60, evaluation: 20 },
      ],
    );
    assert.deepEqual(replicas, [6, 6, 6, 10]);
    assert.equal(nth(decisions, 1).scale, false);
    assert.equal(nth(decisions, 1).limited, true);
    assert.equal(nth(decisions, 1).reason, "scale-up limited by policy Pods 4 per 60s to 6");
  });

  test("decide does not record a scale: without recordScale the budget is still there", () => {
    const first = decide(input({ current: 2, evaluation: 20, maxReplicas: 50, behavior: podsFourPerMinute }));
    assert.deepEqual(first.history.scaleUpEvents, []);
    // The write failed: the target is still at 2 thirty seconds later.
    const retry = decide(
      input({
        current: 2,
        evaluation: 20,
        maxReplicas: 50,
        now: at(30),
        behavior: podsFourPerMinute,
        history: first.history,
      }),
    );
    assert.equal(retry.replicas, 6);
  });

  test("a scale-down within the period moves the period's start for a scale-up", () => {
    const history = recordScale(emptyHistory(), at(-10), 15, 10);
    const decision = decide(
      input({ current: 10, evaluation: 30, maxReplicas: 50, behavior: podsFourPerMinute, history }),
    );
    assert.equal(decision.replicas, 19);
  });

  test("events no policy period can see are pruned from the kept history", () => {
    const history: History = {
      ...emptyHistory(),
      scaleUpEvents: [
        { at: at(-200), change: 3 },
        { at: at(-30), change: 1 },
      ],
      scaleDownEvents: [{ at: at(-61), change: 2 }],
    };
    const decision = decide(input({ current: 5, evaluation: 5, behavior: podsFourPerMinute, history }));
    assert.deepEqual(decision.history.scaleUpEvents, [{ at: at(-30), change: 1 }]);
    assert.deepEqual(decision.history.scaleDownEvents, []);
  });

  const cases: { name: string; from: number; to: number; up: ScaleEvent[]; down: ScaleEvent[] }[] = [
    {
      name: "recordScale keeps a scale-up as an added count",
      from: 3,
      to: 7,
      up: [{ at: T0, change: 4 }],
      down: [],
    },
    {
      name: "recordScale keeps a scale-down as a removed count",
      from: 7,
      to: 2,
      up: [],
      down: [{ at: T0, change: 5 }],
    },
    { name: "recordScale keeps nothing when nothing changed", from: 4, to: 4, up: [], down: [] },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const history = recordScale(emptyHistory(), T0, c.from, c.to);
      assert.deepEqual(history.scaleUpEvents, c.up);
      assert.deepEqual(history.scaleDownEvents, c.down);
    });
  }
});

describe("behavior: min and max", () => {
  const cases: Case[] = [
    {
      name: "the policies' limit and the clamp both show in the reason and the trace",
      input: input({
        evaluation: 15,
        current: 4,
        maxReplicas: 12,
        behavior: { scaleUp: { policies: [pods(4, 60)] } },
      }),
      replicas: 8,
      limited: true,
      reason: "clamped to maxReplicas 12; scale-up limited by policy Pods 4 per 60s to 8",
    },
    {
      name: "a target above maxReplicas goes straight to maxReplicas, as the HPA does",
      input: input({ evaluation: 3, current: 12, maxReplicas: 10, behavior: {} }),
      replicas: 10,
      limited: true,
      reason: "current replicas 12 above maxReplicas 10",
    },
    {
      name: "a target below minReplicas goes straight to minReplicas, as the HPA does",
      input: input({ evaluation: 2, current: 1, minReplicas: 3, behavior: {} }),
      replicas: 3,
      reason: "current replicas 1 below minReplicas 3",
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      check(c);
    });
  }

  test("the trace shows each stage", () => {
    const decision = decide(
      input({
        evaluation: 15,
        current: 4,
        maxReplicas: 12,
        behavior: { scaleUp: { policies: [pods(4, 60)] } },
      }),
    );
    assert.deepEqual(decision.trace, {
      raw: 15,
      afterClamp: 12,
      afterStabilization: 12,
      afterPolicies: 8,
      final: 8,
    });
  });

  test("a correction into bounds records no recommendation", () => {
    const decision = decide(input({ evaluation: 3, current: 12, maxReplicas: 10, behavior: {} }));
    assert.deepEqual(decision.history.recommendations, NO_RECOMMENDATIONS);
  });
});

describe("decide is pure", () => {
  function frozenHistory(): History {
    return Object.freeze({
      recommendations: Object.freeze({
        highest: Object.freeze([Object.freeze({ at: at(-60), replicas: 7 })]),
        lowest: Object.freeze([Object.freeze({ at: at(-60), replicas: 7 })]),
      }),
      scaleUpEvents: Object.freeze([Object.freeze({ at: at(-10), change: 2 })]),
      scaleDownEvents: Object.freeze([]),
    });
  }
  const inputs: { name: string; input: DecisionInput }[] = [
    {
      name: "without behavior",
      input: input({ evaluation: 3, downscaleStabilizationSeconds: 300, history: frozenHistory() }),
    },
    {
      name: "with behavior",
      input: input({ evaluation: 9, current: 4, behavior: {}, history: frozenHistory() }),
    },
  ];
  for (const c of inputs) {
    test(`the same input gives the same decision and is left unchanged (${c.name})`, () => {
      const before = structuredClone(c.input);
      const first = decide(c.input);
      assert.deepEqual(decide(c.input), first);
      assert.deepEqual(c.input, before);
    });
  }
});
