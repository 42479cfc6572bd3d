// A shadow's runs decide and keep their history, run no scale hook, never
// write /scale, and say what they would have done in the status.
import assert from "node:assert/strict";
import { test } from "node:test";
import { createLogger } from "../lib/log.ts";
import { resolveConfig } from "./config.ts";
import { runCycle, type CycleContext } from "./cycle.ts";
import { emptyHistory } from "./decide/decide.ts";
import type { StageRunner } from "./methods/method.ts";
import { Stages, type StageName } from "./stages.ts";
import { autoscalerStatus } from "./status.ts";
import type { TargetClient } from "./target.ts";

const log = createLogger("test", "silent");

test("a shadow run decides, keeps its history, and neither scales nor runs the scale hooks", async () => {
  const ran: StageName[] = [];
  const runner = (stage: StageName, out: string): StageRunner => ({
    run: () => {
      ran.push(stage);
      return Promise.resolve(out);
    },
  });
  const stages = new Stages(
    {
      metric: runner("metric", "7"),
      evaluate: runner("evaluate", '{"targetReplicas": 7}'),
      preScale: runner("preScale", ""),
      postScale: runner("postScale", ""),
    },
    log,
  );
  const scaled: number[] = [];
  const target = {
    read: () =>
      Promise.resolve({
        resource: {
          group: "apps",
          version: "v1",
          resource: "deployments",
          kind: "Deployment",
          namespaced: true,
          scalable: true,
        },
        object: { apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "web" } },
        current: 2,
        selector: "app=web",
      }),
    scale: (_r: unknown, n: number) => {
      scaled.push(n);
      return Promise.resolve();
    },
  } as unknown as TargetClient;
  const config = resolveConfig(
    {
      scaleTargetRef: { kind: "Deployment", name: "web", apiVersion: "apps/v1" },
      runMode: "per-resource",
      maxReplicas: 10,
      downscaleStabilization: 60,
      metric: { type: "shell", shell: { entrypoint: "true" } },
      evaluate: { type: "shell", shell: { entrypoint: "true" } },
    },
    "/config.yaml",
    {},
  ).config;
  const ctx: CycleContext = { config, target, stages, log, now: () => 1_000_000, shadow: true };
  const state = { history: emptyHistory() };
  const outcome = await runCycle(ctx, state, "scaler");
  assert.deepEqual(scaled, [], "no /scale write");
  assert.deepEqual(ran, ["metric", "evaluate"], "no scale hook");
  assert.equal(outcome.shadow, true);
  assert.equal(outcome.scaled, false);
  assert.equal(outcome.decision.replicas, 7);
  assert.notDeepEqual(state.history, emptyHistory(), "the stabilisation window remembers the decision");

  const status = autoscalerStatus({ outcome }, undefined, new Date(1_000_000), 1);
  assert.equal(status.currentReplicas, 2);
  assert.equal(status.desiredReplicas, 7);
  assert.deepEqual(status.shadow, { divergence: 5 });
  const able = status.conditions.find((c) => c.type === "AbleToScale");
  assert.equal(able?.reason, "ShadowMode");
  assert.match(able.message, /would set the target to 7 replicas, and never writes \/scale/);
});
