// The Autoscaler records every run, good or failed, in its log line and its
// ring, and GET /api/v1/history serves the ring.
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { describe, test } from "node:test";
import { pino } from "pino";
import { FakeClock } from "../../lib/fake-clock.ts";
import { apiHandler } from "../api.ts";
import { Autoscaler } from "../autoscaler.ts";
import { resolveConfig } from "../config.ts";
import { emptyHistory } from "../decide/decide.ts";
import { Stages } from "../stages.ts";
import { fakeDeployment, scriptedStages } from "../test-fixtures.ts";
import type { RunRecord } from "./record.ts";

const START = Date.parse("2026-12-01T09:00:00.000Z");

function setup(metricOutputs: (string | Error)[]) {
  const lines: string[] = [];
  const log = pino({ level: "info", base: null }, { write: (l: string) => lines.push(l) });
  const config = resolveConfig(
    {
      scaleTargetRef: { kind: "Deployment", name: "web", apiVersion: "apps/v1" },
      namespace: "shop",
      runMode: "per-resource",
      maxReplicas: 5,
      metric: { type: "shell", shell: { entrypoint: "true" } },
      evaluate: { type: "shell", shell: { entrypoint: "true" } },
    },
    "/config.yaml",
    {},
  ).config;
  const runners = scriptedStages(metricOutputs);
  const { target } = fakeDeployment(2);
  const clock = new FakeClock(START);
  const autoscaler = new Autoscaler({
    ctx: { config, target, stages: new Stages(runners, log), log, now: () => clock.now() },
    clock,
    history: emptyHistory(),
  });
  const logged = (): { msg: string; record?: RunRecord }[] =>
    lines.map((l) => JSON.parse(l) as { msg: string; record?: RunRecord });
  return { autoscaler, clock, logged, config, log };
}

describe("the flight recorder in the Autoscaler", () => {
  test("every run, good or failed, is one log line carrying its record, and goes into the ring", async () => {
    const { autoscaler, clock, logged } = setup(["9", new Error("boom"), "3"]);
    await autoscaler.run("scaler");
    clock.advance(15_000);
    await assert.rejects(autoscaler.run("scaler"));
    clock.advance(15_000);
    await autoscaler.run("api_dry_run", true);

    const withRecords = logged().filter((l) => l.record);
    assert.equal(withRecords.length, 3, "one line per run");
    assert.equal(logged().length, 3, "and no other line for them");
    const [first, failed, dry] = withRecords.map((l) => l.record);
    assert.ok(first && failed && dry);
    assert.equal(withRecords[0]?.msg, "Scaling Deployment/web to 5");
    assert.deepEqual(
      {
        time: first.time,
        current: first.current,
        evaluation: first.evaluation,
        replicas: first.decision?.replicas,
        rules: first.decision?.rules,
        scaled: first.scaled,
        metrics: first.metrics,
        target: first.target,
      },
      {
        time: "2026-12-01T09:00:00.000Z",
        current: 2,
        evaluation: { targetReplicas: 9 },
        replicas: 5,
        rules: ["maxReplicas"],
        scaled: true,
        metrics: [{ resource: "web", value: "9" }],
        target: { kind: "Deployment", name: "web", apiVersion: "apps/v1", namespace: "shop" },
      },
    );
    assert.deepEqual(failed.failure, {
      step: "stage",
      stage: "metric",
      message: failed.failure?.message ?? "",
    });
    assert.match(failed.failure.message, /boom/);
    assert.equal(failed.current, 5, "what the run got to before it failed");
    assert.equal(failed.decision, undefined);
    assert.deepEqual(
      { runType: dry.runType, dryRun: dry.dryRun, replicas: dry.decision?.replicas, scaled: dry.scaled },
      { runType: "api_dry_run", dryRun: true, replicas: 3, scaled: false },
    );

    assert.deepEqual(
      autoscaler.records.lines().map((l) => JSON.parse(l) as RunRecord),
      [first, failed, dry],
    );
  });

  test("GET /api/v1/history serves the ring as JSON lines, ?since= a time or a duration", async () => {
    const { autoscaler, clock, config, log } = setup(["1", "2", "3"]);
    for (let i = 0; i < 3; i++) {
      await autoscaler.run("scaler");
      clock.advance(60_000);
    }
    const handler = apiHandler({ autoscaler, config, log });
    const server = createServer((req, res) => void handler(req, res));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const address = server.address();
      const base = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}/api/v1/history`;
      const all = await fetch(base);
      assert.equal(all.status, 200);
      assert.equal(all.headers.get("content-type"), "application/x-ndjson");
      const records = (await all.text())
        .trimEnd()
        .split("\n")
        .map((l) => JSON.parse(l) as RunRecord);
      assert.deepEqual(
        records.map((r) => r.evaluation?.targetReplicas),
        [1, 2, 3],
      );
      const since = await fetch(`${base}?since=2026-12-01T09:01:00Z`);
      assert.equal((await since.text()).trimEnd().split("\n").length, 2);
      const bad = await fetch(`${base}?since=soon`);
      assert.equal(bad.status, 400);
      assert.match(((await bad.json()) as { message: string }).message, /RFC 3339/);
      assert.equal((await fetch(base, { method: "POST" })).status, 405);
    } finally {
      server.close();
    }
  });
});
