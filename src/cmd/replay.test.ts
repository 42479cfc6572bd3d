// cpa replay end to end, without a cluster: an Autoscaler with the real shell
// method runs and logs its records; its log lines are the trace; the same
// config replays them exactly, and changed logic does not.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { pino } from "pino";
import { buildStages } from "../autoscaler/assemble.ts";
import { Autoscaler } from "../autoscaler/autoscaler.ts";
import { loadConfig } from "../autoscaler/config.ts";
import { emptyHistory } from "../autoscaler/decide/decide.ts";
import type { TargetClient, TargetState } from "../autoscaler/target.ts";
import { FakeClock } from "../lib/fake-clock.ts";
import { runReplay } from "./replay.ts";

const dir = mkdtempSync(join(tmpdir(), "cpa-replay-"));
after(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** A config whose evaluate stage asks for ceil(metric / per) replicas, through sh. */
function writeConfig(name: string, per: number): string {
  const script = join(dir, `${name}.sh`);
  writeFileSync(
    script,
    [
      'v=$(sed -n \'s/.*"value":"\\([0-9]*\\)".*/\\1/p\')',
      `echo "{\\"targetReplicas\\": $(( (v + ${per - 1}) / ${per} ))}"`,
      "",
    ].join("\n"),
  );
  const path = join(dir, name);
  writeFileSync(
    path,
    [
      "runMode: per-resource",
      "minReplicas: 1",
      "maxReplicas: 8",
      "downscaleStabilization: 120",
      "metric:",
      "  type: shell",
      `  shell: { entrypoint: /bin/cat, command: [${join(dir, "load")}] }`,
      "evaluate:",
      "  type: shell",
      `  shell: { entrypoint: /bin/sh, command: [${script}] }`,
      "",
    ].join("\n"),
  );
  return path;
}

async function recordTrace(config: string, load: number[]): Promise<string> {
  const lines: string[] = [];
  const log = pino({ level: "info", base: null }, { write: (l: string) => lines.push(l) });
  const env = {
    scaleTargetRef: JSON.stringify({ kind: "Deployment", name: "web", apiVersion: "apps/v1" }),
    namespace: "shop",
  };
  const loaded = loadConfig(env, config).config;
  const state: TargetState = {
    resource: {
      group: "apps",
      version: "v1",
      resource: "deployments",
      kind: "Deployment",
      namespaced: true,
      scalable: true,
    },
    object: {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "web", namespace: "shop" },
      spec: { replicas: 1 },
    },
    current: 1,
    selector: "app=web",
  };
  const target = {
    read: () => Promise.resolve({ ...state, object: { ...state.object, spec: { replicas: state.current } } }),
    pods: () => Promise.resolve([]),
    scale: (_r: unknown, replicas: number) => {
      state.current = replicas;
      return Promise.resolve();
    },
  } as unknown as TargetClient;
  const clock = new FakeClock(Date.parse("2026-12-01T09:00:00.000Z"));
  const stages = buildStages(loaded, log);
  const autoscaler = new Autoscaler({
    ctx: { config: loaded, target, stages, log, now: () => clock.now() },
    clock,
    history: emptyHistory(),
  });
  for (const value of load) {
    writeFileSync(join(dir, "load"), String(value));
    await autoscaler.run("scaler");
    clock.advance(30_000);
  }
  await stages.close();
  const trace = join(dir, "trace.log");
  // As a log store exports them: every line of the autoscaler's log, others included.
  writeFileSync(trace, `${JSON.stringify({ level: 30, msg: "Autoscaler started" })}\n${lines.join("")}`);
  return trace;
}

async function replayed(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const code = await runReplay(args, { out: (t) => (out += t), err: (t) => (err += t) });
  return { code, out, err };
}

describe("cpa replay", () => {
  const load = [5, 25, 60, 60, 20, 5, 5, 5, 5, 40, 5, 5];

  test("the same scripts over their own recorded runs decide exactly as recorded, byte for byte each time", async () => {
    const config = writeConfig("config.yaml", 10);
    const trace = await recordTrace(config, load);
    const first = await replayed(["--config", config, "--trace", trace]);
    assert.equal(first.code, 0, first.err);
    assert.match(
      first.out,
      /^Replayed 12 runs of Deployment\/web in shop from 2026-12-01T09:00:00\.000Z to 2026-12-01T09:05:30\.000Z \(6 min\)$/m,
    );
    assert.match(first.out, /Every run decided as recorded\./);
    const second = await replayed(["--config", config, "--trace", trace]);
    assert.equal(second.out, first.out);

    const json = JSON.parse(
      (await replayed(["--config", config, "--trace", trace, "--format", "json"])).out,
    ) as {
      steps: { recorded: { replicas: number }; replayed: { replicas: number; rules: string[] } }[];
    };
    assert.deepEqual(
      json.steps.map((s) => s.replayed.replicas),
      [1, 3, 6, 6, 6, 6, 6, 6, 2, 4, 4, 4],
    );
    assert.deepEqual(
      json.steps.map((s) => s.recorded.replicas),
      json.steps.map((s) => s.replayed.replicas),
    );
    assert.ok(json.steps.some((s) => s.replayed.rules.includes("stabilization")));
  });

  test("changed logic over the same runs: where and how far it differs, and a chart of it", async () => {
    const trace = await recordTrace(writeConfig("config.yaml", 10), load);
    const eager = writeConfig("eager.yaml", 5);
    const res = await replayed(["--config", eager, "--trace", trace, "--out", join(dir, "chart.svg")]);
    assert.equal(res.code, 0, res.err);
    assert.match(
      res.out,
      /\d+ of 12 runs \(\d+\.\d%\) decided differently; largest difference [1-9]\d* replicas/,
    );
    assert.match(res.err, /Wrote the chart to .*chart\.svg/);
    assert.match(readFileSync(join(dir, "chart.svg"), "utf8"), /^<svg /);
  });

  test("mistakes are named, with no stack trace", async () => {
    const config = writeConfig("config.yaml", 10);
    await assert.rejects(replayed(["--config", config]), /--trace FILE .* or --csv FILE/);
    await assert.rejects(
      replayed(["--config", config, "--trace", join(dir, "none.jsonl")]),
      /--trace: .*none\.jsonl does not exist/,
    );
    await assert.rejects(
      replayed(["--config", config, "--csv", "x", "--out", "c.gif"]),
      /must end in \.svg or \.png/,
    );
    writeFileSync(join(dir, "empty.jsonl"), "{}\n");
    const empty = await replayed(["--config", config, "--trace", join(dir, "empty.jsonl")]);
    assert.equal(empty.code, 1);
    assert.match(empty.err, /no runs to replay/);
  });
});
