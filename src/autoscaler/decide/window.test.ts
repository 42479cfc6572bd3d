import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { decide, emptyHistory, recordScale, type History } from "./decide.ts";
import { changeWithin, MAX_SCALE_EVENTS, type TimedReplicas } from "./history.ts";
import {
  highestIn,
  inTrailingWindow,
  lowestIn,
  NO_RECOMMENDATIONS,
  withRecommendation,
  type WindowEdge,
} from "./window.ts";

/** A small deterministic generator (mulberry32), so a failure replays. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe("stabilisation windows as monotonic queues", () => {
  test("the highest and lowest of any trailing window are exactly those of every entry kept in full", () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const next = random(seed);
      const all: TimedReplicas[] = [];
      let kept = NO_RECOMMENDATIONS;
      let now = 0;
      for (let i = 0; i < 2000; i++) {
        now += Math.floor(next() * 3000);
        const entry = { at: now, replicas: Math.floor(next() * 12) };
        all.push(entry);
        kept = withRecommendation(kept, entry, now - 600_000);
        const seconds = Math.floor(next() * 600);
        const edge: WindowEdge = next() < 0.5 ? "inclusive" : "exclusive";
        const inside = all.filter((e) => inTrailingWindow(e.at, now, seconds, edge)).map((e) => e.replicas);
        const where = `seed ${seed}, run ${i}, window ${seconds}s ${edge}`;
        assert.equal(
          highestIn(kept, now, seconds, edge),
          inside.length ? Math.max(...inside) : undefined,
          where,
        );
        assert.equal(
          lowestIn(kept, now, seconds, edge),
          inside.length ? Math.min(...inside) : undefined,
          where,
        );
      }
      assert.ok(kept.highest.length <= 12 && kept.lowest.length <= 12, "at most one entry per replica count");
    }
  });

  const modes = [
    { name: "the original's downscale window", extra: { downscaleStabilizationSeconds: 86_400 } },
    {
      name: "behavior's windows",
      extra: {
        behavior: {
          scaleUp: { stabilizationWindowSeconds: 3600 },
          scaleDown: {
            stabilizationWindowSeconds: 3600,
            policies: [{ type: "Pods" as const, value: 1, periodSeconds: 1800 }],
          },
        },
      },
    },
  ];
  for (const mode of modes) {
    test(`200,000 runs a millisecond apart through ${mode.name} stay bounded and exact`, () => {
      const next = random(7);
      let history: History = emptyHistory();
      let current = 5;
      let highest = 0;
      const t0 = Date.parse("2026-12-01T00:00:00Z");
      for (let i = 0; i < 200_000; i++) {
        const evaluation = 1 + Math.floor(next() * 20);
        highest = Math.max(highest, Math.min(evaluation, 20));
        const decision = decide({
          evaluation,
          current,
          minReplicas: 1,
          maxReplicas: 20,
          downscaleStabilizationSeconds: 0,
          now: t0 + i,
          history,
          ...mode.extra,
        });
        history = decision.history;
        if (decision.scale) {
          history = recordScale(history, t0 + i, current, decision.replicas);
          current = decision.replicas;
        }
      }
      const { recommendations, scaleUpEvents, scaleDownEvents } = history;
      assert.ok(
        recommendations.highest.length <= 20,
        `${recommendations.highest.length} kept for the highest`,
      );
      assert.ok(recommendations.lowest.length <= 20, `${recommendations.lowest.length} kept for the lowest`);
      assert.ok(scaleUpEvents.length <= MAX_SCALE_EVENTS && scaleDownEvents.length <= MAX_SCALE_EVENTS);
      // Every run was inside the window: the highest evaluation of all of them holds.
      if (mode.extra.downscaleStabilizationSeconds) assert.equal(current, highest);
    });
  }

  test("past the cap, the oldest scale events merge at the later time: a period never counts less", () => {
    let history = emptyHistory();
    for (let i = 0; i < MAX_SCALE_EVENTS + 500; i++) history = recordScale(history, i * 10, 5, 6);
    assert.equal(history.scaleUpEvents.length, MAX_SCALE_EVENTS);
    const now = (MAX_SCALE_EVENTS + 500) * 10;
    for (const period of [1, 5, 50, 5000, 100_000]) {
      const exact = Array.from({ length: MAX_SCALE_EVENTS + 500 }, (_, i) => i * 10).filter(
        (at) => at > now - period * 1000,
      ).length;
      assert.ok(changeWithin(history.scaleUpEvents, now, period) >= exact, `period ${period}s`);
    }
    assert.equal(changeWithin(history.scaleUpEvents, now, 100_000), MAX_SCALE_EVENTS + 500);
  });
});
