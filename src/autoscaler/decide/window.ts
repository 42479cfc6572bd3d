// Past recommendations for stabilisation, kept as two monotonic queues: the
// exact highest and lowest over any trailing window, in memory bounded by the
// number of distinct replica counts whatever the call rate (a day-long window
// at one run a millisecond keeps no more than a one-minute one).
//
// An entry that is not above a later one can never again be the highest of a
// trailing window: whenever it is inside one, so is the later entry. So
// `highest` keeps only entries each strictly above every later one (replicas
// strictly decreasing, oldest first), and `lowest` the mirror image; the
// highest of a window is then the first entry of `highest` inside it.
import type { TimedReplicas } from "./history.ts";

export interface Recommendations {
  /** Oldest first, replicas strictly decreasing: the candidates for a window's highest. */
  readonly highest: readonly TimedReplicas[];
  /** Oldest first, replicas strictly increasing: the candidates for a window's lowest. */
  readonly lowest: readonly TimedReplicas[];
}

export const NO_RECOMMENDATIONS: Recommendations = { highest: [], lowest: [] };

/** From a plain list, oldest first (tests, and status history written by earlier versions). */
export function recommendationsOf(entries: readonly TimedReplicas[]): Recommendations {
  let r = NO_RECOMMENDATIONS;
  for (const e of entries) r = withRecommendation(r, e, -Infinity);
  return r;
}

/** Which entries a window holds: the original counts an entry exactly one window old, the HPA does not. */
export type WindowEdge = "inclusive" | "exclusive";

export function inTrailingWindow(at: number, now: number, seconds: number, edge: WindowEdge): boolean {
  const cutoff = now - seconds * 1000;
  return edge === "inclusive" ? at >= cutoff : at > cutoff;
}

/**
 * Adds a recommendation (newer than all kept) and drops what no window can
 * use any more: entries it dominates, and entries older than `keepSince`.
 */
export function withRecommendation(
  r: Recommendations,
  entry: TimedReplicas,
  keepSince: number,
): Recommendations {
  const fresh = (e: TimedReplicas): boolean => e.at >= keepSince;
  const highest = r.highest.filter(fresh);
  while (highest.length > 0 && (highest.at(-1)?.replicas ?? Infinity) <= entry.replicas) highest.pop();
  highest.push(entry);
  const lowest = r.lowest.filter(fresh);
  while (lowest.length > 0 && (lowest.at(-1)?.replicas ?? -Infinity) >= entry.replicas) lowest.pop();
  lowest.push(entry);
  return { highest, lowest };
}

/** Keeps only entries at or after `keepSince`. */
export function prunedRecommendations(r: Recommendations, keepSince: number): Recommendations {
  const fresh = (e: TimedReplicas): boolean => e.at >= keepSince;
  return { highest: r.highest.filter(fresh), lowest: r.lowest.filter(fresh) };
}

/** The highest recommendation in the trailing window, or undefined when it holds none. */
export function highestIn(
  r: Recommendations,
  now: number,
  seconds: number,
  edge: WindowEdge,
): number | undefined {
  return r.highest.find((e) => inTrailingWindow(e.at, now, seconds, edge))?.replicas;
}

/** The lowest recommendation in the trailing window, or undefined when it holds none. */
export function lowestIn(
  r: Recommendations,
  now: number,
  seconds: number,
  edge: WindowEdge,
): number | undefined {
  return r.lowest.find((e) => inTrailingWindow(e.at, now, seconds, edge))?.replicas;
}
