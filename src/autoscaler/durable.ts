// What an autoscaler keeps across its Pods, in the CPA's status.history: the
// decision history (stabilisation and behavior policies read it) and, when
// config.yaml's state.enabled is set, the stages' own state. Pure: building
// the persisted form, reading it back, and whether a change is worth a write.
//
// Only what a later run can still use is kept: recommendations inside the
// longest stabilisation window, scale events inside the longest policy period.
// So an autoscaler without a window or policies keeps nothing, and writes
// nothing for it.
import { HISTORY_LIMITS, type PersistedHistory, type ScaleTargetRef } from "../api/custom-pod-autoscaler.ts";
import { longestPeriodSeconds, longestWindowSeconds, resolveBehavior } from "./decide/behavior.ts";
import { emptyHistory, type History, type ScaleEvent, type TimedReplicas } from "./decide/decide.ts";
import { recommendationsOf } from "./decide/window.ts";
import type { Config } from "./config.ts";

/** What a new autoscaler Pod starts from. */
export interface Durable {
  history: History;
  /** The stages' state: any JSON value, null when there is none. */
  userState: unknown;
}

/**
 * A change of times only (the latest recommendation seen again, later) is
 * written at most this often; any other change is written with the run's
 * status. A Pod replaced in between holds a repeated value for at most this
 * much less than its window.
 */
export const TIME_ONLY_REFRESH_MS = 60_000;

/** The target a history is about: apiVersion/kind/name (the namespace is the CPA's). */
export function targetKey(ref: ScaleTargetRef): string {
  return `${ref.apiVersion ?? ""}/${ref.kind}/${ref.name}`;
}

/** How far back a later run can look: the longest window, and the longest policy period. */
export function horizonSeconds(config: Pick<Config, "behavior" | "downscaleStabilization">): {
  window: number;
  period: number;
} {
  if (!config.behavior) return { window: config.downscaleStabilization, period: 0 };
  const behavior = resolveBehavior(config.behavior);
  return { window: longestWindowSeconds(behavior), period: longestPeriodSeconds(behavior) };
}

const iso = (at: number): string => new Date(at).toISOString();

/** The persisted form: only entries a run after `now` can use, oldest first, within HISTORY_LIMITS. */
export function toPersisted(opts: {
  durable: Durable;
  target: string;
  horizon: { window: number; period: number };
  now: number;
  /** Whether the stages' state is on: off, no state is written (and a kept one goes). */
  stateEnabled: boolean;
}): PersistedHistory {
  const { durable, horizon, now } = opts;
  const usable = (at: number, seconds: number): boolean => at + seconds * 1000 > now;
  const { highest, lowest } = durable.history.recommendations;
  const seen = new Set<TimedReplicas>();
  const recommendations = [...highest, ...lowest]
    .filter((e) => usable(e.at, horizon.window) && !seen.has(e) && seen.add(e))
    .sort((a, b) => a.at - b.at)
    .slice(-HISTORY_LIMITS.recommendations)
    .map((e) => ({ at: iso(e.at), replicas: e.replicas }));
  const events = (list: readonly ScaleEvent[]): { at: string; change: number }[] =>
    list
      .filter((e) => usable(e.at, horizon.period))
      .slice(-HISTORY_LIMITS.scaleEvents)
      .map((e) => ({ at: iso(e.at), change: e.change }));
  const state =
    opts.stateEnabled && durable.userState !== null && durable.userState !== undefined
      ? { state: JSON.stringify(durable.userState) }
      : {};
  return {
    target: opts.target,
    recommendations,
    scaleUpEvents: events(durable.history.scaleUpEvents),
    scaleDownEvents: events(durable.history.scaleDownEvents),
    ...state,
  };
}

export type Restored =
  | { kind: "none" }
  | { kind: "loaded"; durable: Durable; summary: string }
  | { kind: "dropped"; reason: string };

/** Reads status.history back for the autoscaler of `target`. */
export function fromPersisted(persisted: PersistedHistory | undefined, target: string): Restored {
  if (!persisted) return { kind: "none" };
  if (persisted.target !== target)
    return {
      kind: "dropped",
      reason: `the history in status is for ${persisted.target ?? "an unnamed target"}, and this autoscaler scales ${target}: it starts with an empty history`,
    };
  const recommendations: TimedReplicas[] = [];
  for (const e of persisted.recommendations ?? []) {
    const at = Date.parse(e.at);
    if (!Number.isFinite(at)) return unreadable(`recommendation time "${e.at}"`);
    recommendations.push({ at, replicas: e.replicas });
  }
  const events = (list: PersistedHistory["scaleUpEvents"]): ScaleEvent[] =>
    (list ?? []).map((e) => ({ at: Date.parse(e.at), change: e.change }));
  const up = events(persisted.scaleUpEvents);
  const down = events(persisted.scaleDownEvents);
  if ([...up, ...down].some((e) => !Number.isFinite(e.at))) return unreadable("a scale event's time");
  let userState: unknown = null;
  if (persisted.state !== undefined) {
    try {
      userState = JSON.parse(persisted.state);
    } catch {
      return unreadable("state (not JSON)");
    }
  }
  const ordered = recommendations.sort((a, b) => a.at - b.at);
  return {
    kind: "loaded",
    durable: {
      history: {
        ...emptyHistory(),
        recommendations: recommendationsOf(ordered),
        scaleUpEvents: up,
        scaleDownEvents: down,
      },
      userState,
    },
    summary:
      `${ordered.length} recommendations, ${up.length + down.length} scale events` +
      (persisted.state === undefined ? "" : `, ${Buffer.byteLength(persisted.state)} bytes of state`),
  };
}

function unreadable(what: string): Restored {
  return { kind: "dropped", reason: `the history in status has an unreadable ${what}: it starts empty` };
}

/** The persisted history without its times: what decisions read, apart from when. */
function shape(h: PersistedHistory | undefined): string {
  if (!h) return "";
  return JSON.stringify([
    h.target,
    h.recommendations?.map((e) => e.replicas),
    h.scaleUpEvents?.map((e) => e.change),
    h.scaleDownEvents?.map((e) => e.change),
    h.state,
  ]);
}

/**
 * What status.history should say after a run: `next`, unless it differs from
 * what was last written in its times only and that write is recent; then the
 * written one stays, so the run's status write has nothing new to send.
 */
export function historyToWrite(opts: {
  written: PersistedHistory | undefined;
  next: PersistedHistory;
  writtenAt: number | undefined;
  now: number;
}): PersistedHistory {
  const { written, next, writtenAt, now } = opts;
  if (!written || shape(written) !== shape(next)) return next;
  if (writtenAt !== undefined && now - writtenAt < TIME_ONLY_REFRESH_MS) return written;
  return next;
}
