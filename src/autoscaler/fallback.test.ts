// config.fallback: after failureThreshold failed runs in a row the target goes
// to fallback.replicas (clamped), with no window or policy holding it; it stays
// while runs fail, and the first good run decides as usual again.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { pino } from "pino";
import { FakeClock } from "../lib/fake-clock.ts";
import { Autoscaler } from "./autoscaler.ts";
import { resolveConfig } from "./config.ts";
import { emptyHistory } from "./decide/decide.ts";
import type { RunRecord } from "./recorder/record.ts";
import { Stages } from "./stages.ts";
import { autoscalerStatus } from "./status.ts";
import { fakeDeployment, scriptedStages } from "./test-fixtures.ts";

function setup(extra: Record<string, unknown>, outputs: (string | Error)[], current = 2) {
  const log = pino({ level: "silent" });
  const config = resolveConfig(
    {
      scaleTargetRef: { kind: "Deployment", name: "web", apiVersion: "apps/v1" },
      runMode: "per-resource",
      maxReplicas: 8,
      downscaleStabilization: 300,
      metric: { type: "shell", shell: { entrypoint: "true" } },
      evaluate: { type: "shell", shell: { entrypoint: "true" } },
      ...extra,
    },
    "/config.yaml",
    {},
  ).config;
  const runners = scriptedStages(outputs);
  const { state, target, writes } = fakeDeployment(current);
  const clock = new FakeClock(Date.parse("2026-12-01T09:00:00.000Z"));
  const autoscaler = new Autoscaler({
    ctx: { config, target, stages: new Stages(runners, log), log, now: () => clock.now() },
    clock,
    history: emptyHistory(),
  });
  const run = async (dryRun = false): Promise<void> => {
    await autoscaler.run("scaler", dryRun).catch(() => undefined);
    clock.advance(15_000);
  };
  const last = (): RunRecord => JSON.parse(autoscaler.records.lines().at(-1) ?? "{}") as RunRecord;
  return { run, writes, state, last };
}

const down = new Error("metrics backend unreachable");

describe("fallback", () => {
  test("from the threshold on, the target goes to fallback.replicas, past the stabilisation window; a good run resumes", async () => {
    const f = setup({ fallback: { failureThreshold: 2, replicas: 5 } }, ["6", down, down, down, "3"]);
    await f.run();
    assert.deepEqual(f.writes, [6]);
    await f.run();
    assert.deepEqual(f.writes, [6], "one failure is below the threshold");
    await f.run();
    assert.deepEqual(f.writes, [6, 5], "the window holding 6 does not hold the fallback");
    assert.deepEqual(f.last().fallback, { failedRuns: 2, replicas: 5, current: 6, scaled: true });
    await f.run();
    assert.deepEqual(f.writes, [6, 5], "held there, no write while it is already there");
    assert.deepEqual(f.last().fallback, { failedRuns: 3, replicas: 5, current: 5, scaled: false });
    await f.run();
    // The first good run decides as usual: 3, held at 6 by the window (the 6 of the first run).
    assert.equal(f.last().failure, undefined);
    assert.deepEqual(f.last().decision?.rules, ["stabilization"]);
    assert.equal(f.last().decision?.replicas, 6);
  });

  test("fallback.replicas is clamped to min/max", async () => {
    const f = setup({ fallback: { failureThreshold: 1, replicas: 50 } }, [down]);
    await f.run();
    assert.deepEqual(f.writes, [8]);
  });

  test("not set, failures leave the target as it is; dry runs and scale hooks do not count", async () => {
    const none = setup({}, [down, down, down]);
    for (let i = 0; i < 3; i++) await none.run();
    assert.deepEqual(none.writes, []);

    const dry = setup({ fallback: { failureThreshold: 1, replicas: 5 } }, [down]);
    await dry.run(true);
    assert.deepEqual(dry.writes, []);
  });

  test("a target at 0 with minReplicas above 0 (autoscaling disabled) is left alone", async () => {
    const f = setup({ fallback: { failureThreshold: 1, replicas: 5 } }, [down], 0);
    await f.run();
    assert.deepEqual(f.writes, []);
  });

  test("the status says why the target is held", () => {
    const status = autoscalerStatus(
      {
        failure: { step: "stage", error: new Error("metric failed: exit 1") },
        fallback: { failedRuns: 3, replicas: 5, current: 2, scaled: true },
      },
      undefined,
      new Date(0),
      1,
    );
    assert.equal(status.currentReplicas, 5);
    assert.equal(status.desiredReplicas, 5);
    const active = status.conditions.find((c) => c.type === "ScalingActive");
    assert.equal(active?.reason, "FallbackActive");
    assert.match(active.message, /3 runs failed in a row.*fallback\.replicas \(5\).*metric failed: exit 1/);
  });

  test("config: both keys required, named when missing; settable as a spec.config JSON entry", () => {
    assert.throws(
      () =>
        resolveConfig(
          {
            scaleTargetRef: { kind: "Deployment", name: "web" },
            metric: { type: "shell", shell: { entrypoint: "true" } },
            evaluate: { type: "shell", shell: { entrypoint: "true" } },
            fallback: { replicas: 3 },
          },
          "/config.yaml",
          {},
        ),
      /fallback.*failureThreshold/,
    );
    const { config } = resolveConfig(
      {
        scaleTargetRef: { kind: "Deployment", name: "web" },
        metric: { type: "shell", shell: { entrypoint: "true" } },
        evaluate: { type: "shell", shell: { entrypoint: "true" } },
      },
      "/config.yaml",
      { fallback: '{"failureThreshold": 4, "replicas": 2}' },
    );
    assert.deepEqual(config.fallback, { failureThreshold: 4, replicas: 2 });
  });
});
