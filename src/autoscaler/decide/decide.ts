// One run's decision (runtime step 3, "Decide"): from the user's evaluation,
// the target's current replicas and what earlier runs left behind, the
// replicas to set and why. Pure: no I/O, no clock (now is an input), no
// randomness. The caller writes /scale, then calls recordScale if it succeeded.
import type { Behavior } from "../../api/autoscaler-config.ts";
import {
  bringIntoBounds,
  limitByPolicies,
  longestPeriodSeconds,
  longestWindowSeconds,
  resolveBehavior,
  stabilizeWithBehavior,
  type ResolvedBehavior,
} from "./behavior.ts";
import { pruneScaleEvents, type History } from "./history.ts";
import { prunedRecommendations } from "./window.ts";
import { clampToBounds, isAutoscalingDisabled, stabilizeDownscale, type Step } from "./rules.ts";

export { emptyHistory, recordScale } from "./history.ts";
export type { History, ScaleEvent, TimedReplicas } from "./history.ts";

export interface DecisionInput {
  /** The user's targetReplicas, as evaluated (not clamped). */
  evaluation: number;
  /** spec.replicas read from the target's /scale. */
  current: number;
  minReplicas: number;
  maxReplicas: number;
  /** Milliseconds since the epoch, from the caller's clock. */
  now: number;
  /** The original's downscaleStabilization, in seconds (0 = off). Not used when behavior is set. */
  downscaleStabilizationSeconds: number;
  /** HPA autoscaling/v2 behavior, opt-in: replaces the original's stabilisation. */
  behavior?: Behavior | undefined;
  /** What earlier runs left; not modified. */
  history: History;
}

/** The value after each stage, for logs and status. */
export interface DecisionTrace {
  raw: number;
  afterClamp: number;
  afterStabilization: number;
  afterPolicies: number;
  final: number;
}

export interface Decision {
  /** What to set spec.replicas to. */
  replicas: number;
  /** Whether to write /scale: replicas differs from current and autoscaling is enabled. */
  scale: boolean;
  /** Human readable: each rule that changed the value, or the plain outcome. */
  reason: string;
  trace: DecisionTrace;
  /** min/max, stabilisation or a policy changed the value (an HPA-style ScalingLimited). */
  limited: boolean;
  /** The history to keep for the next run. */
  history: History;
}

export function decide(input: DecisionInput): Decision {
  if (isAutoscalingDisabled(input.current, input.minReplicas)) return disabledDecision(input);
  if (input.behavior === undefined) return decideOriginal(input);
  return decideWithBehavior(input, resolveBehavior(input.behavior));
}

function disabledDecision(input: DecisionInput): Decision {
  return {
    replicas: 0,
    scale: false,
    reason: `autoscaling disabled: the target has 0 replicas and minReplicas is ${input.minReplicas}`,
    trace: { raw: input.evaluation, afterClamp: 0, afterStabilization: 0, afterPolicies: 0, final: 0 },
    limited: false,
    history: input.history,
  };
}

/** The original's semantics: clamp, then downscale stabilisation over clamped targets. */
function decideOriginal(input: DecisionInput): Decision {
  const clamped = clampToBounds(input.evaluation, input.minReplicas, input.maxReplicas);
  const stabilized = stabilizeDownscale(
    clamped.replicas,
    input.now,
    input.downscaleStabilizationSeconds,
    input.history.recommendations,
  );
  const replicas = stabilized.step.replicas;
  return conclude(
    input,
    [clamped, stabilized.step],
    {
      raw: input.evaluation,
      afterClamp: clamped.replicas,
      afterStabilization: replicas,
      afterPolicies: replicas,
      final: replicas,
    },
    // Scale events only feed behavior policies.
    { recommendations: stabilized.recommendations, scaleUpEvents: [], scaleDownEvents: [] },
  );
}

/**
 * The HPA's normalizeDesiredReplicasWithBehaviors. We clamp first and the HPA
 * last; as clamping is monotonic and min/max are fixed for a runtime's life,
 * the replicas are the same, and the stored recommendations stay in range.
 */
function decideWithBehavior(input: DecisionInput, behavior: ResolvedBehavior): Decision {
  const { current, now, minReplicas, maxReplicas } = input;
  const history = {
    ...input.history,
    ...pruneScaleEvents(input.history, now, longestPeriodSeconds(behavior)),
  };
  const clamped = clampToBounds(input.evaluation, minReplicas, maxReplicas);
  const corrected = bringIntoBounds(current, minReplicas, maxReplicas);
  if (corrected !== undefined) return decideOutOfBounds(input, behavior, clamped, corrected, history);
  const stabilized = stabilizeWithBehavior(clamped.replicas, current, now, behavior, history.recommendations);
  const limited = limitByPolicies(stabilized.step.replicas, current, now, behavior, history);
  const final = clampToBounds(limited.replicas, minReplicas, maxReplicas);
  return conclude(
    input,
    [clamped, stabilized.step, limited, final],
    {
      raw: input.evaluation,
      afterClamp: clamped.replicas,
      afterStabilization: stabilized.step.replicas,
      afterPolicies: limited.replicas,
      final: final.replicas,
    },
    { ...history, recommendations: stabilized.recommendations },
  );
}

function decideOutOfBounds(
  input: DecisionInput,
  behavior: ResolvedBehavior,
  clamped: Step,
  corrected: Step,
  history: History,
): Decision {
  const window = longestWindowSeconds(behavior);
  const recommendations = prunedRecommendations(history.recommendations, input.now - window * 1000);
  // The HPA skips stabilisation and policies here: the trace shows them as
  // leaving the clamped value alone, and the bounds correction as the last step.
  return conclude(
    input,
    [corrected],
    {
      raw: input.evaluation,
      afterClamp: clamped.replicas,
      afterStabilization: clamped.replicas,
      afterPolicies: clamped.replicas,
      final: corrected.replicas,
    },
    { ...history, recommendations },
  );
}

function conclude(
  input: DecisionInput,
  steps: readonly Step[],
  trace: DecisionTrace,
  history: History,
): Decision {
  const notes = steps.flatMap((step) => (step.note === undefined ? [] : [step.note]));
  const replicas = trace.final;
  return {
    replicas,
    scale: replicas !== input.current,
    reason: notes.length > 0 ? notes.join("; ") : plainReason(replicas, input.current),
    trace,
    limited: notes.length > 0,
    history,
  };
}

function plainReason(replicas: number, current: number): string {
  return replicas === current ? `no change: ${current} replicas` : `scale from ${current} to ${replicas}`;
}
