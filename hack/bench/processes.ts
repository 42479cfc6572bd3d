// Runtime benchmarks of whole processes: ours (`cpa autoscaler`) and, where it
// built, the original Go runtime, started the same way (hack/local-pods runs
// them as a kubelet would: in-cluster ServiceAccount credentials, the same
// config file) and observed the same way from outside:
//   - a dry-run evaluation through the REST API (POST /api/v1/evaluation?dry_run=true);
//   - loop jitter: when the metric script starts, against the 1 s grid;
//   - reaction: a metric change → the target's replicas changing (a watch event);
//   - idle RSS.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { V1Pod } from "@kubernetes/client-node";
import { stringify } from "yaml";
import { runPodLocally, type LocalProcess } from "../local-pods/pod-runner.ts";
import type { KubeObject } from "../../src/kube/objects.ts";
import { freePort } from "../../test/support/processes.ts";
import { nowMs, procSample, sleepMs, waitFor, watch, type Cluster } from "./kube.ts";
import { round, roundSummary, summarize, type Summary } from "./stats.ts";
import { runtimeConfig, stageMethods, type MethodKind, type TargetSpec, type WorkDir } from "./workload.ts";

export type Runtime = "ours" | "go";
export const RUNNER_SA = "bench-runner";

export interface RuntimeProcess {
  runtime: Runtime;
  proc: LocalProcess;
  pid: number;
  apiUrl: string;
  stop(): Promise<void>;
}

/** Lets the runner read the resource metrics API in the namespace (edit does not). */
export async function grantMetricsRead(cluster: Cluster, namespace: string): Promise<void> {
  const rbac = "/apis/rbac.authorization.k8s.io/v1";
  await cluster.http
    .request("POST", `${rbac}/namespaces/${namespace}/roles`, {
      body: {
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "Role",
        metadata: { name: "bench-metrics" },
        rules: [{ apiGroups: ["metrics.k8s.io"], resources: ["pods"], verbs: ["get", "list"] }],
      },
    })
    .catch(() => undefined);
  await cluster.http
    .request("POST", `${rbac}/namespaces/${namespace}/rolebindings`, {
      body: {
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "RoleBinding",
        metadata: { name: "bench-metrics" },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "bench-metrics" },
        subjects: [{ kind: "ServiceAccount", name: RUNNER_SA, namespace }],
      },
    })
    .catch(() => undefined);
}

/** A ServiceAccount that may read and scale the namespace's workloads (ClusterRole edit). */
export async function createRunnerAccount(cluster: Cluster, namespace: string): Promise<void> {
  await cluster.http.request("POST", `/api/v1/namespaces/${namespace}/serviceaccounts`, {
    body: { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: RUNNER_SA } },
  });
  await cluster.http.request(
    "POST",
    `/apis/rbac.authorization.k8s.io/v1/namespaces/${namespace}/rolebindings`,
    {
      body: {
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "RoleBinding",
        metadata: { name: RUNNER_SA },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "edit" },
        subjects: [{ kind: "ServiceAccount", name: RUNNER_SA, namespace }],
      },
    },
  );
}

/**
 * Starts a runtime as the Pod's container would run: ours with the image's
 * default command (`cpa autoscaler`), the original with its binary. The config
 * goes in a file named by configPath, which both read.
 */
export async function startRuntime(
  cluster: Cluster,
  runtime: Runtime,
  goBinary: string | undefined,
  namespace: string,
  work: WorkDir,
  config: Record<string, unknown>,
): Promise<RuntimeProcess> {
  const port = await freePort();
  const file = join(work.dir, `config-${runtime}-${port}.yaml`);
  writeFileSync(file, stringify({ ...config, apiConfig: { enabled: true, host: "127.0.0.1", port } }));
  if (runtime === "go" && !goBinary) throw new Error("no Go runtime binary");
  const pod = {
    metadata: { name: `bench-${runtime}`, namespace },
    spec: {
      serviceAccountName: RUNNER_SA,
      containers: [
        {
          name: "autoscaler",
          image: "bench",
          ...(runtime === "go" ? { command: [goBinary] } : {}),
          env: [
            { name: "configPath", value: file },
            // Ours runs compiled, as the image ships it (the benchmark builds dist/ first).
            ...(runtime === "ours" ? [{ name: "CPA_USE_DIST", value: "1" }] : []),
          ],
        },
      ],
    },
  } as V1Pod;
  const proc = await runPodLocally(pod, {}, cluster.kc);
  const apiUrl = `http://127.0.0.1:${port}`;
  await waitFor(
    `the ${runtime} runtime's API`,
    async () => {
      if (proc.child.exitCode !== null)
        throw new Error(`it exited (${proc.child.exitCode}):\n${proc.output().slice(-2000)}`);
      const res = await fetch(`${apiUrl}/api/v1/metrics?dry_run=true`);
      await res.text();
      return res.status === 200 ? true : undefined;
    },
    60_000,
    200,
  );
  return {
    runtime,
    proc,
    pid: proc.child.pid ?? 0,
    apiUrl,
    stop: async () => {
      await proc.stop();
    },
  };
}

export interface ApiRunResult {
  runtime: Runtime;
  method: MethodKind;
  mode: string;
  requests: number;
  /** Client-side time of one dry-run evaluation (target read, metric per pod, evaluate), ms. */
  ms: Summary;
}

/**
 * Starts a request at most every this many ms. The original's client-go clients
 * keep their default client-side rate limit (5 requests/s, burst 10, one bucket
 * per client), so back-to-back evaluations would measure its throttling (a
 * steady 200 ms each), not its work.
 */
export const API_PACING_MS = 250;

/** Times sequential dry-run evaluations through the REST API, paced by API_PACING_MS. */
export async function measureApiRuns(
  cluster: Cluster,
  runtime: Runtime,
  goBinary: string | undefined,
  namespace: string,
  work: WorkDir,
  serverUrl: string,
  method: MethodKind,
  target: TargetSpec,
  opts: {
    requests: number;
    warmup: number;
    budgetSeconds: number;
    /** More config keys (kubernetesMetricSpecs), and the mode's name in reports then. */
    extra?: Record<string, unknown>;
    mode?: string;
  },
): Promise<ApiRunResult> {
  // A one-hour interval: only the API runs cycles while we measure.
  const config = runtimeConfig(namespace, target, stageMethods(method, target, work, serverUrl), {
    interval: 3_600_000,
    ...opts.extra,
  });
  const rt = await startRuntime(cluster, runtime, goBinary, namespace, work, config);
  const times: number[] = [];
  const deadline = Date.now() + opts.budgetSeconds * 1000;
  // Warm-up ends after opts.warmup requests or a tenth of the budget, whichever comes first.
  const warmupDeadline = Date.now() + opts.budgetSeconds * 100;
  let warm = opts.warmup === 0;
  try {
    for (let i = 0; times.length < opts.requests; i++) {
      const t = nowMs();
      const res = await fetch(`${rt.apiUrl}/api/v1/evaluation?dry_run=true`, { method: "POST" });
      const body = await res.text();
      const ms = nowMs() - t;
      if (res.status !== 200) throw new Error(`${runtime} evaluation answered ${res.status}: ${body}`);
      if (warm) times.push(ms);
      warm ||= i + 1 >= opts.warmup || Date.now() > warmupDeadline;
      if (Date.now() > deadline && times.length > 0) break;
      await sleepMs(Math.max(0, API_PACING_MS - ms));
    }
  } finally {
    await rt.stop();
  }
  return {
    runtime,
    method,
    mode: opts.mode ?? target.mode,
    requests: times.length,
    ms: roundSummary(summarize(times)),
  };
}

export interface ProcessJitterResult {
  runtime: Runtime;
  cycles: number;
  /** When the metric script started, after the whole-second start it was scheduled for, ms. */
  lateMs: Summary;
  /** RSS after the jitter run (interval 1 s), MB. */
  rssMb: number;
}

/**
 * Runs the loop at a 1 s interval aligned to whole seconds (startTime 1000) and
 * records when each run's metric script starts (bash's $EPOCHREALTIME, no fork).
 */
export async function measureProcessJitter(
  cluster: Cluster,
  runtime: Runtime,
  goBinary: string | undefined,
  namespace: string,
  work: WorkDir,
  target: TargetSpec,
  cycles: number,
): Promise<ProcessJitterResult> {
  const stamps = join(work.dir, `stamps-${runtime}.txt`);
  writeFileSync(stamps, "");
  const config = runtimeConfig(
    namespace,
    target,
    {
      metric: {
        type: "shell",
        timeout: 10_000,
        shell: { entrypoint: "/bin/bash", command: ["-c", `echo $EPOCHREALTIME >> ${stamps}; echo 5`] },
      },
      evaluate: stageMethods("sh", target, work, undefined).evaluate,
    },
    { interval: 1000, startTime: 1000 },
  );
  const rt = await startRuntime(cluster, runtime, goBinary, namespace, work, config);
  const lines = (): string[] => readFileSync(stamps, "utf8").split("\n").filter(Boolean);
  try {
    await waitFor(
      `${cycles} runs of the ${runtime} runtime`,
      () => (lines().length >= cycles + 1 ? true : undefined),
      (cycles + 30) * 1000,
      500,
    );
    const rssMb = procSample(rt.pid).rssMb;
    // The first run may follow the process's start-up; keep the steady ones.
    const late = lines()
      .slice(1, cycles + 1)
      .map((s) => (Number(s) * 1000) % 1000);
    return { runtime, cycles: late.length, lateMs: roundSummary(summarize(late)), rssMb: round(rssMb) };
  } finally {
    await rt.stop();
  }
}

export interface ReactionResult {
  runtime: Runtime;
  intervalMs: number;
  samples: number;
  /** Metric changed → target's spec.replicas changed (watch event), ms. */
  ms: Summary;
}

/**
 * Changes the metric (a file the metric script cats) at a random moment of the
 * interval and times how long until the target's replicas follow.
 */
export async function measureReaction(
  cluster: Cluster,
  runtime: Runtime,
  goBinary: string | undefined,
  namespace: string,
  work: WorkDir,
  target: TargetSpec,
  samples: number,
): Promise<ReactionResult> {
  const value = join(work.dir, `value-${runtime}.txt`);
  writeFileSync(value, String(target.replicas));
  const config = runtimeConfig(
    namespace,
    target,
    {
      metric: {
        type: "shell",
        timeout: 10_000,
        shell: { entrypoint: "/bin/sh", command: ["-c", `cat ${value}`] },
      },
      evaluate: {
        type: "shell",
        timeout: 10_000,
        shell: { entrypoint: "/bin/sh", command: ["-c", `printf '{"targetReplicas":%s}' "$(cat ${value})"`] },
      },
    },
    { interval: 1000 },
  );
  let replicas = target.replicas;
  let changedAt = 0;
  let seen: ((ms: number) => void) | undefined;
  const w = await watch<KubeObject & { spec?: { replicas?: number } }>(
    cluster.http,
    `/apis/apps/v1/namespaces/${namespace}/deployments`,
    { fieldSelector: `metadata.name=${target.name}` },
    (_type, obj, at) => {
      if (obj.spec?.replicas === replicas && seen) {
        seen(at - changedAt);
        seen = undefined;
      }
    },
  );
  const rt = await startRuntime(cluster, runtime, goBinary, namespace, work, config);
  const times: number[] = [];
  try {
    await sleepMs(2500); // a couple of runs at the starting value
    for (let i = 0; i < samples; i++) {
      await sleepMs(Math.random() * 1000);
      replicas = replicas === target.replicas ? target.replicas + 1 : target.replicas;
      const done = new Promise<number>((resolve) => (seen = resolve));
      changedAt = nowMs();
      writeFileSync(value, String(replicas));
      const ms = await Promise.race([done, sleepMs(15_000).then(() => Number.NaN)]);
      if (Number.isNaN(ms)) throw new Error(`${runtime}: the target did not follow the metric within 15 s`);
      times.push(ms);
    }
  } finally {
    w.stop();
    await rt.stop();
    writeFileSync(value, String(target.replicas));
  }
  return { runtime, intervalMs: 1000, samples: times.length, ms: roundSummary(summarize(times)) };
}

export interface IdleResult {
  runtime: Runtime;
  /** RSS after idling through a few 15 s cycles, MB. */
  rssMb: number;
  peakRssMb: number;
  idleSeconds: number;
}

/** Starts the runtimes side by side at the default 15 s interval, lets them idle, and reads their RSS. */
export async function measureIdle(
  cluster: Cluster,
  runtimes: { runtime: Runtime; goBinary: string | undefined }[],
  namespace: string,
  work: WorkDir,
  target: TargetSpec,
  idleSeconds: number,
): Promise<IdleResult[]> {
  const methods = stageMethods("sh", target, work, undefined);
  const started: RuntimeProcess[] = [];
  try {
    for (const r of runtimes) {
      started.push(
        await startRuntime(
          cluster,
          r.runtime,
          r.goBinary,
          namespace,
          work,
          runtimeConfig(namespace, target, methods, { interval: 15_000 }),
        ),
      );
    }
    await sleepMs(idleSeconds * 1000);
    return started.map((rt) => {
      const s = procSample(rt.pid);
      return { runtime: rt.runtime, rssMb: round(s.rssMb), peakRssMb: round(s.peakRssMb), idleSeconds };
    });
  } finally {
    for (const rt of started) await rt.stop();
  }
}
