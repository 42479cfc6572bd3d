// HPA autoscaling/v2 `behavior`, with the arithmetic of the Kubernetes HPA
// controller (pkg/controller/podautoscaler/horizontal.go):
// stabilizeRecommendationWithBehaviors, then convertDesiredReplicasWithBehaviorRate
// with calculateScaleUpLimitWithScalingRules / calculateScaleDownLimitWithBehaviors.
// JS numbers are float64 like Go's, and the Percent formulas below are written
// in the same order as the controller's, so results match to the replica.
import {
  DEFAULT_SCALE_DOWN as HPA_SCALE_DOWN,
  DEFAULT_SCALE_UP as HPA_SCALE_UP,
  type Behavior,
  type ScalingRules,
} from "../../api/autoscaler-config.ts";
import { changeWithin, type History } from "./history.ts";
import { unchanged, type Stabilized, type Step } from "./rules.ts";
import { highestIn, lowestIn, withRecommendation, type Recommendations } from "./window.ts";

export type ScalingPolicy = NonNullable<ScalingRules["policies"]>[number];
export type SelectPolicy = NonNullable<ScalingRules["selectPolicy"]>;

export interface ResolvedRules {
  readonly stabilizationWindowSeconds: number;
  readonly selectPolicy: SelectPolicy;
  readonly policies: readonly ScalingPolicy[];
}

export interface ResolvedBehavior {
  readonly scaleUp: ResolvedRules;
  readonly scaleDown: ResolvedRules;
}

/** The HPA's defaults, per direction (defined with the schema, which documents them). */
export const DEFAULT_SCALE_UP: ResolvedRules = HPA_SCALE_UP;
export const DEFAULT_SCALE_DOWN: ResolvedRules = HPA_SCALE_DOWN;

/**
 * Fills missing fields field by field, as the HPA's defaulting does: a given
 * `policies` list replaces the default list as a whole.
 */
export function resolveBehavior(behavior: Behavior): ResolvedBehavior {
  return {
    scaleUp: withDefaults(behavior.scaleUp, DEFAULT_SCALE_UP),
    scaleDown: withDefaults(behavior.scaleDown, DEFAULT_SCALE_DOWN),
  };
}

function withDefaults(rules: ScalingRules | undefined, defaults: ResolvedRules): ResolvedRules {
  return {
    stabilizationWindowSeconds: rules?.stabilizationWindowSeconds ?? defaults.stabilizationWindowSeconds,
    selectPolicy: rules?.selectPolicy ?? defaults.selectPolicy,
    policies: rules?.policies ?? defaults.policies,
  };
}

/** How long history must be kept for these rules: the longest window or period. */
export function longestWindowSeconds(behavior: ResolvedBehavior): number {
  return Math.max(longestPeriodSeconds(behavior), ...[behavior.scaleUp, behavior.scaleDown].map(windowOf));
}

/**
 * The longest policy period of both directions: a scale-up limit also counts
 * the scale-downs within its period, and the other way round.
 */
export function longestPeriodSeconds(behavior: ResolvedBehavior): number {
  const periods = [...behavior.scaleUp.policies, ...behavior.scaleDown.policies].map((p) => p.periodSeconds);
  return Math.max(0, ...periods);
}

function windowOf(rules: ResolvedRules): number {
  return rules.stabilizationWindowSeconds;
}

/**
 * The HPA's stabilization: the lowest recommendation of the scale-up window
 * bounds a scale-up, the highest of the scale-down window bounds a scale-down,
 * and the current replicas is brought between the two. This run's
 * recommendation always counts; earlier ones only strictly inside a window.
 */
export function stabilizeWithBehavior(
  desired: number,
  current: number,
  now: number,
  behavior: ResolvedBehavior,
  past: Recommendations,
): Stabilized {
  const up = behavior.scaleUp.stabilizationWindowSeconds;
  const down = behavior.scaleDown.stabilizationWindowSeconds;
  const upBound = Math.min(desired, lowestIn(past, now, up, "exclusive") ?? desired);
  const downBound = Math.max(desired, highestIn(past, now, down, "exclusive") ?? desired);
  const replicas = Math.min(Math.max(current, upBound), downBound);
  const recommendations = withRecommendation(
    past,
    { at: now, replicas: desired },
    now - Math.max(up, down) * 1000,
  );
  if (replicas === desired) return { step: unchanged(desired), recommendations };
  const note =
    desired > current
      ? `held at ${replicas} by scale-up stabilization: lowest recommendation in the last ${up}s = ${upBound}`
      : `held at ${replicas} by scale-down stabilization: highest recommendation in the last ${down}s = ${downBound}`;
  return { step: { replicas, note }, recommendations };
}

type Direction = "up" | "down";

interface Proposal {
  readonly policy: ScalingPolicy;
  readonly replicas: number;
}

/**
 * Replicas at the start of a policy's period: current, minus what scale-ups
 * added and plus what scale-downs removed within it (both directions count,
 * as in the current HPA controller).
 */
export function replicasAtPeriodStart(
  current: number,
  history: History,
  now: number,
  periodSeconds: number,
): number {
  return (
    current -
    changeWithin(history.scaleUpEvents, now, periodSeconds) +
    changeWithin(history.scaleDownEvents, now, periodSeconds)
  );
}

/**
 * The most replicas a policy allows by the end of its period. Scale-up
 * Percent rounds up (ceil), so a small percentage still allows one more pod.
 * Scale-down Percent truncates the remaining replicas toward zero, as the
 * controller's int32(float64(start) * (1 - value/100)): the number removed is
 * rounded up (72 at 10% may drop to 64, as in the HPA docs), not the number kept.
 */
function propose(direction: Direction, start: number, policy: ScalingPolicy): number {
  if (direction === "up") {
    if (policy.type === "Pods") return start + policy.value;
    // A percentage of nothing is nothing: from zero (minReplicas: 0, which the
    // HPA never meets) a Percent policy allows one replica, or scale-from-zero
    // could never happen.
    return Math.max(Math.ceil(start * (1 + policy.value / 100)), start === 0 ? 1 : 0);
  }
  return policy.type === "Pods" ? start - policy.value : Math.trunc(start * (1 - policy.value / 100));
}

/**
 * Max picks the policy allowing the biggest change and Min the smallest: for
 * a scale-up that is the highest and lowest limit, for a scale-down the reverse.
 * Ties go to the first policy listed.
 */
function choose(proposals: readonly Proposal[], highest: boolean): Proposal | undefined {
  let best: Proposal | undefined;
  for (const p of proposals) {
    if (best === undefined || (highest ? p.replicas > best.replicas : p.replicas < best.replicas)) best = p;
  }
  return best;
}

export function describePolicy(policy: ScalingPolicy): string {
  const amount = policy.type === "Percent" ? `${policy.value}%` : `${policy.value}`;
  return `${policy.type} ${amount} per ${policy.periodSeconds}s`;
}

/**
 * The HPA's rate limits on a stabilized target. A budget already used within
 * a period can put a policy's limit past current; the HPA then holds at
 * current rather than move the other way, and so do we.
 */
export function limitByPolicies(
  target: number,
  current: number,
  now: number,
  behavior: ResolvedBehavior,
  history: History,
): Step {
  if (target === current) return unchanged(target);
  const direction: Direction = target > current ? "up" : "down";
  const rules = direction === "up" ? behavior.scaleUp : behavior.scaleDown;
  const label = direction === "up" ? "scale-up" : "scale-down";
  if (rules.selectPolicy === "Disabled") {
    return { replicas: current, note: `${label} disabled by selectPolicy Disabled` };
  }
  const proposals = rules.policies.map((policy) => ({
    policy,
    replicas: propose(direction, replicasAtPeriodStart(current, history, now, policy.periodSeconds), policy),
  }));
  const chosen = choose(proposals, (direction === "up") === (rules.selectPolicy === "Max"));
  if (chosen === undefined) return { replicas: current, note: `${label} not allowed: no ${label} policies` };
  const limit = direction === "up" ? Math.max(chosen.replicas, current) : Math.min(chosen.replicas, current);
  const beyond = direction === "up" ? target > limit : target < limit;
  if (!beyond) return unchanged(target);
  return { replicas: limit, note: `${label} limited by policy ${describePolicy(chosen.policy)} to ${limit}` };
}

/**
 * The HPA's reconcileAutoscaler moves a target outside [min, max] straight to
 * the nearest bound, whatever the metrics say, without stabilization or
 * policies and without recording a recommendation.
 */
export function bringIntoBounds(current: number, minReplicas: number, maxReplicas: number): Step | undefined {
  if (current > maxReplicas) {
    return { replicas: maxReplicas, note: `current replicas ${current} above maxReplicas ${maxReplicas}` };
  }
  if (current < minReplicas) {
    return { replicas: minReplicas, note: `current replicas ${current} below minReplicas ${minReplicas}` };
  }
  return undefined;
}
