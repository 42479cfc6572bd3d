// Runtime benchmarks, in process: the Autoscaler class as `cpa autoscaler`
// assembles it (status reporter, Prometheus metrics, info logging), against the
// real apiserver. Framework overhead per cycle = the cycle's wall time minus the
// time spent inside the user's stages, as the Stages observer times them.
import { join } from "node:path";
import type { KubeConfig } from "@kubernetes/client-node";
import { pino, type Logger } from "pino";
import { assemble } from "../../src/autoscaler/assemble.ts";
import { resolveConfig } from "../../src/autoscaler/config.ts";
import { systemClock, type Clock } from "../../src/lib/clock.ts";
import { autoscalerMetrics, instrumentKubeRequests, newRegistry } from "../../src/lib/metrics.ts";
import { nowMs, type Cluster } from "./kube.ts";
import { roundSummary, summarize, type Summary } from "./stats.ts";
import { runtimeConfig, stageMethods, type MethodKind, type TargetSpec, type WorkDir } from "./workload.ts";

export interface OverheadResult {
  method: MethodKind;
  mode: string;
  pods: number;
  cycles: number;
  /** Cycle minus user time, ms. */
  overheadMs: Summary;
  cycleMs: Summary;
  userMs: Summary;
  /** Time in Kubernetes API requests per cycle (part of the overhead), ms, and requests per cycle. */
  kubeApiMs: Summary;
  kubeRequestsPerCycle: number;
  /** Overhead minus the Kubernetes API time: the runtime's own work, ms. */
  ownMs: Summary;
}

export interface JitterResult {
  intervalMs: number;
  cycles: number;
  /** Actual minus scheduled cycle start, ms. */
  lateMs: Summary;
}

/** Logs as `cpa autoscaler` does (pino, info, ISO time), into /dev/null rather than the report. */
function productionLikeLogger(): Logger {
  return pino(
    {
      name: "cpa-autoscaler",
      level: "info",
      base: null,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    pino.destination({ dest: "/dev/null", sync: true }),
  );
}

async function build(
  kc: KubeConfig,
  file: Record<string, unknown>,
  work: WorkDir,
  cpaName: string,
  clock: Clock = systemClock,
): Promise<Awaited<ReturnType<typeof assemble>>> {
  const { config } = resolveConfig(file, join(work.dir, "config.yaml"), {});
  const registry = newRegistry();
  const assembled = await assemble({
    config,
    credentials: kc,
    log: productionLikeLogger(),
    cpaName,
    metrics: autoscalerMetrics(registry),
    clock,
    instance: "bench",
  });
  instrumentKubeRequests(registry, assembled.http);
  return assembled;
}

export interface OverheadOptions {
  cycles: number;
  warmup: number;
  budgetSeconds: number;
}

/** Runs cycles back to back and splits each into user time and framework overhead. */
export async function measureOverhead(
  cluster: Cluster,
  namespace: string,
  work: WorkDir,
  serverUrl: string,
  method: MethodKind,
  target: TargetSpec,
  opts: OverheadOptions,
): Promise<OverheadResult> {
  const file = runtimeConfig(namespace, target, stageMethods(method, target, work, serverUrl), {
    apiConfig: { enabled: false },
  });
  const { autoscaler, stages, http } = await build(cluster.kc, file, work, `rt-${target.name}`);
  let user = 0;
  let api = 0;
  let requests = 0;
  stages.observe(({ seconds }) => {
    user += seconds * 1000;
  });
  http.observe((_method, _path, _status, seconds) => {
    api += seconds * 1000;
    requests++;
  });
  const cycle: number[] = [];
  const overhead: number[] = [];
  const userTimes: number[] = [];
  const apiTimes: number[] = [];
  const own: number[] = [];
  let measuredRequests = 0;
  const deadline = Date.now() + opts.budgetSeconds * 1000;
  // Warm-up ends after opts.warmup cycles or a tenth of the budget, whichever comes first.
  const warmupDeadline = Date.now() + opts.budgetSeconds * 100;
  let warm = opts.warmup === 0;
  try {
    for (let i = 0; cycle.length < opts.cycles; i++) {
      user = 0;
      api = 0;
      requests = 0;
      const t = nowMs();
      const outcome = await autoscaler.run("scaler");
      const ms = nowMs() - t;
      if (outcome.scaled) throw new Error(`a benchmark cycle scaled ${target.name}; the workload should not`);
      if (warm) {
        cycle.push(ms);
        userTimes.push(user);
        overhead.push(ms - user);
        apiTimes.push(api);
        own.push(ms - user - api);
        measuredRequests += requests;
      }
      warm ||= i + 1 >= opts.warmup || Date.now() > warmupDeadline;
      // The budget counts warm-up too; at least one cycle is always measured.
      if (Date.now() > deadline && cycle.length > 0) break;
    }
  } finally {
    await stages.close();
  }
  return {
    method,
    mode: target.mode,
    pods: target.runMode === "per-pod" ? target.replicas : 0,
    cycles: cycle.length,
    overheadMs: roundSummary(summarize(overhead)),
    cycleMs: roundSummary(summarize(cycle)),
    userMs: roundSummary(summarize(userTimes)),
    kubeApiMs: roundSummary(summarize(apiTimes)),
    kubeRequestsPerCycle: Math.round((measuredRequests / Math.max(1, cycle.length)) * 100) / 100,
    ownMs: roundSummary(summarize(own)),
  };
}

/**
 * Runs the real loop at intervalMs for `cycles` cycles, with a clock that records
 * how late each scheduled start fires (the loop sleeps on clock.setTimeout until
 * the next start it computed).
 */
export async function measureJitter(
  cluster: Cluster,
  namespace: string,
  work: WorkDir,
  target: TargetSpec,
  intervalMs: number,
  cycles: number,
): Promise<JitterResult> {
  const late: number[] = [];
  const stop = new AbortController();
  let lastNow = 0;
  const clock: Clock = {
    now: () => (lastNow = Date.now()),
    monotonic: () => performance.now(),
    setTimeout(fn, ms) {
      const due = lastNow + ms;
      return systemClock.setTimeout(() => {
        late.push(nowMs() - due);
        if (late.length >= cycles) stop.abort();
        fn();
      }, ms);
    },
  };
  const file = runtimeConfig(namespace, target, stageMethods("module", target, work, undefined), {
    interval: intervalMs,
    apiConfig: { enabled: false },
  });
  const { autoscaler, stages } = await build(cluster.kc, file, work, `rt-${target.name}`, clock);
  try {
    await autoscaler.loop(stop.signal);
  } finally {
    await stages.close();
  }
  return { intervalMs, cycles: late.length, lateMs: roundSummary(summarize(late)) };
}
