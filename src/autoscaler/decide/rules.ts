// The original Custom Pod Autoscaler's rules (internal/scaling/scaling.go, v2):
// the scale-to/from-zero switch, the min/max clamp and the downscale
// stabilisation window. The clamp is shared with behavior mode.
import { highestIn, NO_RECOMMENDATIONS, withRecommendation, type Recommendations } from "./window.ts";

/** The value after one rule, and why the rule changed it (absent when it did not). */
export interface Step {
  readonly replicas: number;
  readonly note: string | undefined;
}

export function unchanged(replicas: number): Step {
  return { replicas, note: undefined };
}

/**
 * A target at 0 replicas with minReplicas above 0 is switched off by hand, as
 * in the original and the HPA ("implicit maintenance-mode deactivation"):
 * leave it alone until someone sets replicas or minReplicas 0.
 */
export function isAutoscalingDisabled(current: number, minReplicas: number): boolean {
  return current === 0 && minReplicas !== 0;
}

/**
 * Brings the target into [min, max]. Tested in the original's order (min
 * first), which only matters for min > max: a config we refuse at start.
 */
export function clampToBounds(target: number, minReplicas: number, maxReplicas: number): Step {
  if (target < minReplicas) return { replicas: minReplicas, note: `clamped to minReplicas ${minReplicas}` };
  if (target > maxReplicas) return { replicas: maxReplicas, note: `clamped to maxReplicas ${maxReplicas}` };
  return unchanged(target);
}

export interface Stabilized {
  readonly step: Step;
  readonly recommendations: Recommendations;
}

/**
 * The original's downscale stabilisation: keep (time, clamped target) pairs
 * for `windowSeconds` and use the highest, this run's included. Only a
 * scale-down can be held: the highest is never below this run's target.
 * Unlike the HPA, an entry exactly one window old still counts (the original
 * drops only times Before(cutoff)). A window of 0 keeps nothing.
 */
export function stabilizeDownscale(
  target: number,
  now: number,
  windowSeconds: number,
  past: Recommendations,
): Stabilized {
  if (windowSeconds <= 0) return { step: unchanged(target), recommendations: NO_RECOMMENDATIONS };
  const recommendations = withRecommendation(past, { at: now, replicas: target }, now - windowSeconds * 1000);
  const highest = highestIn(recommendations, now, windowSeconds, "inclusive") ?? target;
  if (highest === target) return { step: unchanged(target), recommendations };
  const note = `held by downscale stabilisation: highest evaluation in the last ${windowSeconds}s = ${highest}`;
  return { step: { replicas: highest, note }, recommendations };
}
