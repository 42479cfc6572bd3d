import { HISTORY_LIMITS } from "../../api/custom-pod-autoscaler.ts";
import { NO_RECOMMENDATIONS, type Recommendations } from "./window.ts";

// What the decision carries from one run to the next. Immutable: every function
// here returns a new History, so a run that fails half-way leaves the kept one
// untouched. Times are milliseconds since the epoch, taken from the caller's clock.

/** A target seen at a time: a clamped evaluation (original mode) or an HPA recommendation. */
export interface TimedReplicas {
  readonly at: number;
  readonly replicas: number;
}

/** A scale that really happened: how many replicas it added or removed (always > 0). */
export interface ScaleEvent {
  readonly at: number;
  readonly change: number;
}

export interface History {
  /** Past targets, for stabilisation (the original's window or the HPA's windows), bounded: window.ts. */
  readonly recommendations: Recommendations;
  /** Scale-ups that happened, as the HPA's scaleUpEvents (behavior mode only). */
  readonly scaleUpEvents: readonly ScaleEvent[];
  /** Scale-downs that happened, as the HPA's scaleDownEvents (behavior mode only). */
  readonly scaleDownEvents: readonly ScaleEvent[];
}

export function emptyHistory(): History {
  return { recommendations: NO_RECOMMENDATIONS, scaleUpEvents: [], scaleDownEvents: [] };
}

/**
 * The most scale events kept per direction. Only a scale that happened is an
 * event, one per run at most, and events older than the longest policy period
 * are dropped; past this many (a scale every run, runs milliseconds apart) the
 * two oldest become one at the later time, which can only make the limits
 * stricter: a merged event counts for longer, never for less.
 */
export const MAX_SCALE_EVENTS: number = HISTORY_LIMITS.scaleEvents;

function withEvent(events: readonly ScaleEvent[], event: ScaleEvent): readonly ScaleEvent[] {
  if (events.length < MAX_SCALE_EVENTS) return [...events, event];
  const [first, second, ...rest] = events;
  const merged = { at: second?.at ?? event.at, change: (first?.change ?? 0) + (second?.change ?? 0) };
  return [merged, ...rest, event];
}

/**
 * Records a scale after the write to /scale succeeded. decide() never records
 * one itself: a failed or skipped write must not use up a policy's budget.
 */
export function recordScale(history: History, now: number, from: number, to: number): History {
  if (to > from)
    return { ...history, scaleUpEvents: withEvent(history.scaleUpEvents, { at: now, change: to - from }) };
  if (to < from)
    return {
      ...history,
      scaleDownEvents: withEvent(history.scaleDownEvents, { at: now, change: from - to }),
    };
  return history;
}

/**
 * Whether a time lies inside the last `seconds` before now. Strictly after the
 * cutoff, as the HPA's `timestamp.After(cutoff)`: an entry exactly one window
 * old no longer counts, and a window of 0 holds nothing from earlier runs.
 */
export function isInWindow(at: number, now: number, seconds: number): boolean {
  return at > now - seconds * 1000;
}

/** Replicas changed by the events within the period (the HPA's getReplicasChangePerPeriod). */
export function changeWithin(events: readonly ScaleEvent[], now: number, periodSeconds: number): number {
  let total = 0;
  for (const event of events) {
    if (isInWindow(event.at, now, periodSeconds)) total += event.change;
  }
  return total;
}

/** Drops scale events no policy period can still see. */
export function pruneScaleEvents(
  history: History,
  now: number,
  longestPeriodSeconds: number,
): Pick<History, "scaleUpEvents" | "scaleDownEvents"> {
  return {
    scaleUpEvents: history.scaleUpEvents.filter((e) => isInWindow(e.at, now, longestPeriodSeconds)),
    scaleDownEvents: history.scaleDownEvents.filter((e) => isInWindow(e.at, now, longestPeriodSeconds)),
  };
}
