import assert from "node:assert/strict";
import { test } from "node:test";
import type { CycleOutcome } from "./cycle.ts";
import { decide, emptyHistory, type DecisionInput } from "./decide/decide.ts";
import { recommendationsOf } from "./decide/window.ts";
import { autoscalerStatus } from "./status.ts";

const NOW = Date.UTC(2026, 0, 1);

function limited(overrides: Partial<DecisionInput>): string | undefined {
  const input: DecisionInput = {
    evaluation: 5,
    current: 5,
    minReplicas: 1,
    maxReplicas: 10,
    now: NOW,
    downscaleStabilizationSeconds: 0,
    history: emptyHistory(),
    ...overrides,
  };
  const decision = decide(input);
  const outcome = {
    target: { current: input.current },
    evaluation: { targetReplicas: input.evaluation },
    decision,
    scaled: decision.scale,
    metrics: null,
  } as unknown as CycleOutcome;
  const status = autoscalerStatus({ outcome }, undefined, new Date(NOW), 1);
  const c = status.conditions.find((x) => x.type === "ScalingLimited");
  return `${c?.status ?? ""}/${c?.reason ?? ""}`;
}

test("ScalingLimited names what limited the decision", () => {
  assert.equal(limited({ evaluation: 5 }), "False/DesiredWithinRange");
  assert.equal(limited({ evaluation: 50 }), "True/TooManyReplicas");
  assert.equal(limited({ evaluation: 0, minReplicas: 2 }), "True/TooFewReplicas");
  assert.equal(
    limited({
      evaluation: 2,
      downscaleStabilizationSeconds: 60,
      history: { ...emptyHistory(), recommendations: recommendationsOf([{ at: NOW - 10_000, replicas: 5 }]) },
    }),
    "True/ScaleStabilized",
  );
});

test("with behavior, replicas above maxReplicas brought back to it are TooManyReplicas, not stabilisation", () => {
  assert.equal(limited({ behavior: {}, current: 12, evaluation: 8 }), "True/TooManyReplicas");
});
