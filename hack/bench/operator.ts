// Operator benchmarks: provisioning N CustomPodAutoscalers applied at once, the
// writes of a resync of N unchanged CPAs, the operator's RSS and CPU, and the
// floor (what one loopback create costs on this machine).
//
// The operator runs as a process with exactly its ServiceAccount's rights (as the
// integration tests start it); the benchmark watches CPAs and Pods and times each
// event on receipt, so per-CPA latency has millisecond resolution.
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import type { CustomPodAutoscaler } from "../../src/api/custom-pod-autoscaler.ts";
import type { KubeObject } from "../../src/kube/objects.ts";
import type { KubeHttp } from "../../src/kube/http.ts";
import { runPodLocally } from "../local-pods/pod-runner.ts";
import { freePort, repoFile } from "../../test/support/processes.ts";
import {
  cpuBetween,
  cpuSnapshot,
  planeProcesses,
  type CpuBreakdown,
  createDeployment,
  createNamespace,
  deleteNamespace,
  mapLimit,
  nowMs,
  procSample,
  sleepMs,
  waitFor,
  watch,
  type Cluster,
  type ProcSample,
} from "./kube.ts";
import { round, roundSummary, summarize, type Summary } from "./stats.ts";

const run = promisify(execFile);

export interface OperatorBenchOptions {
  sizes: number[];
  /** How many CPAs the benchmark creates in parallel ("applied at once"). */
  createConcurrency: number;
  /** The operator's --resync, so a resync pass can be observed without a long wait. */
  resyncSeconds: number;
  /** Write a CPU profile of the operator (node --cpu-prof) into this folder. */
  profileDir?: string | undefined;
  log: (line: string) => void;
}

/** Which operator: ours, or the original Go operator (its binary). */
export type OperatorKind = "ours" | "go";

export interface ProvisionResult {
  operator: OperatorKind;
  n: number;
  /** First CPA create sent → last autoscaler Pod seen (watch event). */
  allPodsSeconds: number;
  /** First CPA create sent → last CPA reporting Ready=True (the Pod Running under kwok). */
  allReadySeconds: number;
  /** Time the benchmark took to create the N CPAs (part of allPodsSeconds). */
  createSeconds: number;
  /** Per CPA: its ADDED watch event → its Pod's ADDED watch event, ms. */
  cpaToPodMs: Summary;
  /** Operator API writes per CPA until every Pod existed, and until settled (all Ready, no more writes). */
  writesPerCpaAtPods: number;
  writesPerCpaSettled: number;
  writesByMethod: Record<string, number>;
  /** Writes made by a full resync pass over the N unchanged CPAs (target 0). */
  resyncWrites: number;
  resyncReconciles: number;
  resyncSeconds: number;
  resyncCpuSeconds: number;
  /**
   * A fresh operator process over the N provisioned CPAs (ours only): seconds
   * from its start to ready (every cache listed), the writes it made until
   * settled (target 0), its peak RSS and CPU seconds.
   */
  restart?: { readySeconds: number; writes: number; peakRssMb: number; cpuSeconds: number };
  /** The operator's CPU seconds from the first create until settled. */
  provisionCpuSeconds: number;
  rssMb: { beforeCpas: number; settled: number; peak: number };
  /** Where the machine's CPU went from the first create until every CPA was Ready. */
  cpu: CpuBreakdown;
}

export interface FloorResult {
  /** One sequential ConfigMap create over a kept-alive loopback connection, ms: the floor. */
  createMs: Summary;
  /** One sequential GET, ms: what each read of a runtime cycle costs at least. */
  getMs: Summary;
  /** Creates per second over kept-alive connections, with 4 (the operator's workers) and 16 in flight. */
  writesPerSecond: { inFlight4: number; inFlight16: number };
  /** The same through the product's transport (KubeHttp), to see what it adds. */
  product: { createMs: Summary; getMs: Summary; writesPerSecondInFlight4: number };
}

interface Scrape {
  writes: Record<string, number>;
  reconciles: number;
}

/** An operator under measurement, whichever it is: its process and its write and reconcile counters. */
interface RunningOperator {
  kind: OperatorKind;
  pid: number;
  scrape(): Promise<Scrape>;
  stop(): Promise<void>;
}

/** Ours: cpa_kube_requests_total and cpa_operator_reconcile_total on its /metrics. */
function parseOurs(text: string): Scrape {
  const writes: Record<string, number> = {};
  for (const m of text.matchAll(
    /^cpa_kube_requests_total\{method="(POST|PUT|PATCH|DELETE)",code="\d+"\} (\d+)/gm,
  )) {
    const method = m[1] ?? "";
    writes[method] = (writes[method] ?? 0) + Number(m[2]);
  }
  let reconciles = 0;
  for (const m of text.matchAll(/^cpa_operator_reconcile_total\{result="[a-z]+"\} (\d+)/gm))
    reconciles += Number(m[1]);
  return { writes, reconciles };
}

/** The original (controller-runtime): rest_client_requests_total and controller_runtime_reconcile_total. */
export function parseControllerRuntime(text: string): Scrape {
  const writes: Record<string, number> = {};
  for (const m of text.matchAll(/^rest_client_requests_total\{([^}]*)\} (\d+)/gm)) {
    const method = /method="([A-Z]+)"/.exec(m[1] ?? "")?.[1] ?? "";
    if (["POST", "PUT", "PATCH", "DELETE"].includes(method))
      writes[method] = (writes[method] ?? 0) + Number(m[2]);
  }
  let reconciles = 0;
  for (const m of text.matchAll(/^controller_runtime_reconcile_total\{([^}]*)\} (\d+)/gm))
    reconciles += Number(m[2]);
  return { writes, reconciles };
}

/** Both operators run with the same credentials: this ServiceAccount, bound to cluster-admin. */
export const BENCH_OPERATOR_SA = "bench-operator";

async function ensureBenchOperatorAccount(cluster: Cluster): Promise<void> {
  const env = { ...process.env, KUBECONFIG: cluster.kubeconfig };
  await run("kubectl", ["create", "serviceaccount", BENCH_OPERATOR_SA, "-n", "cpa-system"], { env }).catch(
    () => undefined,
  );
  await run(
    "kubectl",
    [
      "create",
      "clusterrolebinding",
      BENCH_OPERATOR_SA,
      "--clusterrole=cluster-admin",
      `--serviceaccount=cpa-system:${BENCH_OPERATOR_SA}`,
    ],
    { env },
  ).catch(() => undefined);
}

/**
 * Ours, as its Deployment runs it: compiled (CPA_USE_DIST), in-cluster
 * credentials (so client-node is never loaded), every namespace.
 */
async function startOurs(cluster: Cluster, opts: OperatorBenchOptions): Promise<RunningOperator> {
  const port = await freePort();
  const pod = {
    metadata: { name: "bench-operator", namespace: "cpa-system" },
    spec: {
      serviceAccountName: BENCH_OPERATOR_SA,
      containers: [
        {
          name: "operator",
          image: "bench",
          args: ["operator", `--resync=${opts.resyncSeconds}s`, `--http-address=127.0.0.1:${port}`],
          env: [
            { name: "POD_NAMESPACE", value: "cpa-system" },
            { name: "SERVICE_ACCOUNT_NAME", value: BENCH_OPERATOR_SA },
            { name: "CPA_USE_DIST", value: "1" },
            ...(opts.profileDir
              ? [{ name: "NODE_OPTIONS", value: `--cpu-prof --cpu-prof-dir=${opts.profileDir}` }]
              : []),
          ],
        },
      ],
    },
  };
  return runOperatorPod(cluster, pod, {
    kind: "ours",
    what: "our operator to be ready",
    readyUrl: `http://127.0.0.1:${port}/readyz`,
    metricsUrl: `http://127.0.0.1:${port}/metrics`,
    parse: parseOurs,
  });
}

/**
 * The original operator, as its Deployment runs it: in-cluster credentials (its
 * scaling client needs them), every namespace, metrics on :8000.
 */
async function startGo(cluster: Cluster, binary: string): Promise<RunningOperator> {
  const pod = {
    metadata: { name: "bench-go-operator", namespace: "cpa-system" },
    spec: {
      serviceAccountName: BENCH_OPERATOR_SA,
      containers: [
        {
          name: "operator",
          image: "bench",
          command: [binary],
          env: [{ name: "WATCH_NAMESPACE", value: "" }],
        },
      ],
    },
  };
  return runOperatorPod(cluster, pod, {
    kind: "go",
    what: "the original operator's metrics",
    readyUrl: "http://127.0.0.1:8000/metrics",
    metricsUrl: "http://127.0.0.1:8000/metrics",
    parse: parseControllerRuntime,
  });
}

/** Runs an operator's Pod as a local process, waits until readyUrl answers, and scrapes metricsUrl. */
async function runOperatorPod(
  cluster: Cluster,
  pod: Parameters<typeof runPodLocally>[0],
  o: {
    kind: OperatorKind;
    what: string;
    readyUrl: string;
    metricsUrl: string;
    parse: (text: string) => Scrape;
  },
): Promise<RunningOperator> {
  const proc = await runPodLocally(pod, {}, cluster.kc);
  await waitFor(
    o.what,
    async () => {
      if (proc.child.exitCode !== null)
        throw new Error(`it exited (${proc.child.exitCode}):\n${proc.output().slice(-2000)}`);
      const res = await fetch(o.readyUrl).catch(() => undefined);
      return res?.ok ? true : undefined;
    },
    60_000,
    200,
  );
  return {
    kind: o.kind,
    pid: proc.child.pid ?? 0,
    scrape: async () => o.parse(await (await fetch(o.metricsUrl)).text()),
    stop: async () => {
      await proc.stop();
    },
  };
}

const total = (w: Record<string, number>): number => Object.values(w).reduce((a, b) => a + b, 0);

function diff(after: Record<string, number>, before: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(after).map(([k, v]) => [k, v - (before[k] ?? 0)]));
}

/** Installs config/cluster.yaml (CRD, RBAC, cpa-system) with its Deployment at 0: the operator runs as a local process. */
export async function installOperator(cluster: Cluster): Promise<void> {
  const env = { ...process.env, KUBECONFIG: cluster.kubeconfig };
  await run("kubectl", ["apply", "-f", repoFile("config", "cluster.yaml")], { env });
  await run("kubectl", ["scale", "deployment/cpa-operator", "-n", "cpa-system", "--replicas=0"], { env });
  await run(
    "kubectl",
    ["wait", "--for=condition=Established", "crd/custompodautoscalers.custompodautoscaler.com"],
    {
      env,
    },
  );
}

function cpaManifest(i: number): CustomPodAutoscaler {
  return {
    apiVersion: "custompodautoscaler.com/v1",
    kind: "CustomPodAutoscaler",
    metadata: { name: `cpa-${i}` },
    spec: {
      template: {
        spec: {
          containers: [{ name: "autoscaler", image: "cpa-bench:latest", imagePullPolicy: "IfNotPresent" }],
        },
      },
      scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: `target-${i}` },
      config: [{ name: "interval", value: "15000" }],
    },
  } as unknown as CustomPodAutoscaler;
}

function isReady(cpa: CustomPodAutoscaler): boolean {
  return cpa.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false;
}

/** Runs start() with NODE_OPTIONS asking the processes it spawns for a CPU profile. */
export async function withNodeOptions<T>(
  profileDir: string | undefined,
  start: () => Promise<T>,
): Promise<T> {
  if (!profileDir) return start();
  const saved = process.env["NODE_OPTIONS"];
  process.env["NODE_OPTIONS"] = `--cpu-prof --cpu-prof-dir=${profileDir}`;
  try {
    return await start();
  } finally {
    if (saved === undefined) delete process.env["NODE_OPTIONS"];
    else process.env["NODE_OPTIONS"] = saved;
  }
}

/** Polls until the operator's write count has not moved for quietMs. */
async function settledWrites(operator: RunningOperator, quietMs: number): Promise<Scrape> {
  let last = await operator.scrape();
  let since = Date.now();
  for (;;) {
    await sleepMs(250);
    const now = await operator.scrape();
    if (total(now.writes) !== total(last.writes)) {
      last = now;
      since = Date.now();
    } else if (Date.now() - since >= quietMs) {
      return now;
    }
  }
}

export async function provision(
  cluster: Cluster,
  n: number,
  opts: OperatorBenchOptions,
  which: { kind: "ours" } | { kind: "go"; binary: string } = { kind: "ours" },
): Promise<ProvisionResult> {
  const { http } = cluster;
  await ensureBenchOperatorAccount(cluster);
  const namespace = await createNamespace(http, `bench-${which.kind}-${n}`);
  const cleanups: (() => Promise<void>)[] = [];
  try {
    opts.log(`operator N=${n}: creating ${n} target Deployments in ${namespace}`);
    const indexes = Array.from({ length: n }, (_, i) => i);
    await mapLimit(indexes, 16, (i) => createDeployment(http, namespace, `target-${i}`, 0));
    // Let the controller-manager finish the ReplicaSets before timing anything.
    await waitFor(
      "the targets' ReplicaSets",
      async () => {
        const list = await http.request<{ items: unknown[] }>(
          "GET",
          `/apis/apps/v1/namespaces/${namespace}/replicasets`,
        );
        return list.items.length === n ? true : undefined;
      },
      // The deployment controller makes about 30 a second here: 5,000 take minutes.
      Math.max(120_000, n * 200),
      500,
    );
    const operator =
      which.kind === "ours" ? await startOurs(cluster, opts) : await startGo(cluster, which.binary);
    cleanups.push(() => operator.stop());
    const pid = operator.pid;

    const cpaAdded = new Map<string, number>();
    const podAdded = new Map<string, number>();
    const ready = new Map<string, number>();
    const cpaWatch = await watch<CustomPodAutoscaler>(
      http,
      `/apis/custompodautoscaler.com/v1/namespaces/${namespace}/custompodautoscalers`,
      {},
      (type, cpa, at) => {
        const name = cpa.metadata.name;
        if (type === "ADDED" && !cpaAdded.has(name)) cpaAdded.set(name, at);
        if (isReady(cpa) && !ready.has(name)) ready.set(name, at);
      },
    );
    const podWatch = await watch<KubeObject>(
      http,
      `/api/v1/namespaces/${namespace}/pods`,
      { labelSelector: "app.kubernetes.io/managed-by=custom-pod-autoscaler-operator" },
      (type, pod, at) => {
        const name = pod.metadata?.name ?? "";
        if (type === "ADDED" && !podAdded.has(name)) podAdded.set(name, at);
      },
    );
    cleanups.push(() => {
      cpaWatch.stop();
      podWatch.stop();
      return Promise.resolve();
    });

    await sleepMs(1000);
    const before = await operator.scrape();
    const procBefore = procSample(pid);
    const watched = [...planeProcesses(cluster.kubeconfig), { name: "operator", pid }];
    const cpuBefore = cpuSnapshot(watched);
    opts.log(
      `${which.kind} operator N=${n}: creating ${n} CustomPodAutoscalers, ${opts.createConcurrency} at a time`,
    );
    const t0 = nowMs();
    await mapLimit(indexes, opts.createConcurrency, (i) =>
      http.request("POST", `/apis/custompodautoscaler.com/v1/namespaces/${namespace}/custompodautoscalers`, {
        body: cpaManifest(i),
      }),
    );
    const created = nowMs();
    await waitFor("every autoscaler Pod", () => (podAdded.size >= n ? true : undefined), 600_000, 20);
    const atPods = await operator.scrape();
    const lastPod = Math.max(...podAdded.values());
    // The original writes no status: its CPAs never say Ready.
    if (which.kind === "ours")
      await waitFor("every CPA to be Ready", () => (ready.size >= n ? true : undefined), 600_000, 50);
    const lastReady = which.kind === "ours" ? Math.max(...ready.values()) : Number.NaN;
    const cpuReady = cpuSnapshot(watched);
    const settled = await settledWrites(operator, 3000);
    const procSettled = procSample(pid);

    const resync =
      which.kind === "ours"
        ? await observeResync(operator, pid, n, opts)
        : {
            resyncWrites: Number.NaN,
            resyncReconciles: Number.NaN,
            resyncSeconds: Number.NaN,
            resyncCpuSeconds: Number.NaN,
            peak: procSample(pid),
          };
    const restart =
      which.kind === "ours" ? await observeRestart(cluster, operator, n, opts, cleanups) : undefined;
    const latencies = [...podAdded].map(([name, at]) => at - (cpaAdded.get(name) ?? Number.NaN));
    const writesByMethod = diff(settled.writes, before.writes);
    return {
      operator: which.kind,
      n,
      allPodsSeconds: round((lastPod - t0) / 1000),
      allReadySeconds: round((lastReady - t0) / 1000),
      createSeconds: round((created - t0) / 1000),
      cpaToPodMs: roundSummary(summarize(latencies.filter(Number.isFinite))),
      writesPerCpaAtPods: round((total(atPods.writes) - total(before.writes)) / n),
      writesPerCpaSettled: round(total(writesByMethod) / n),
      writesByMethod,
      ...resync,
      ...(restart ? { restart } : {}),
      provisionCpuSeconds: round(procSettled.cpuSeconds - procBefore.cpuSeconds),
      rssMb: {
        beforeCpas: round(procBefore.rssMb),
        settled: round(procSettled.rssMb),
        peak: round(Math.max(procSettled.peakRssMb, resync.peak.peakRssMb)),
      },
      cpu: cpuBetween(cpuBefore, cpuReady),
    };
  } finally {
    for (const fn of cleanups.reverse()) await fn();
    opts.log(`operator N=${n}: deleting ${namespace} and waiting for it to go`);
    await deleteNamespace(http, namespace);
  }
}

/** Stops the operator and starts a fresh one over the N CPAs: how long until ready, and what it writes. */
async function observeRestart(
  cluster: Cluster,
  operator: RunningOperator,
  n: number,
  opts: OperatorBenchOptions,
  cleanups: (() => Promise<void>)[],
): Promise<NonNullable<ProvisionResult["restart"]>> {
  opts.log(`operator N=${n}: restarting it over the ${n} CPAs`);
  await operator.stop();
  const t0 = nowMs();
  const again = await startOurs(cluster, opts);
  cleanups.push(() => again.stop());
  const readySeconds = round((nowMs() - t0) / 1000);
  const settled = await settledWrites(again, 3000);
  const sample = procSample(again.pid);
  return {
    readySeconds,
    writes: total(settled.writes),
    peakRssMb: round(sample.peakRssMb),
    cpuSeconds: round(sample.cpuSeconds),
  };
}

/** Waits for the next periodic resync to pass over every CPA and counts what it wrote. */
async function observeResync(
  operator: RunningOperator,
  pid: number,
  n: number,
  opts: OperatorBenchOptions,
): Promise<{
  resyncWrites: number;
  resyncReconciles: number;
  resyncSeconds: number;
  resyncCpuSeconds: number;
  peak: ProcSample;
}> {
  const start = await operator.scrape();
  const cpuStart = procSample(pid).cpuSeconds;
  opts.log(`operator N=${n}: waiting for a resync (--resync=${opts.resyncSeconds}s)`);
  let first = 0;
  let current = start;
  await waitFor(
    "a resync pass over every CPA",
    async () => {
      current = await operator.scrape();
      if (current.reconciles > start.reconciles && first === 0) first = nowMs();
      return current.reconciles - start.reconciles >= n ? true : undefined;
    },
    (opts.resyncSeconds + 120) * 1000,
    250,
  );
  const last = nowMs();
  const cpuEnd = procSample(pid).cpuSeconds;
  await sleepMs(3000); // writes a pass might still have in flight (events are fire and forget)
  const end = await operator.scrape();
  return {
    resyncWrites: total(end.writes) - total(start.writes),
    resyncReconciles: current.reconciles - start.reconciles,
    resyncSeconds: round((last - first) / 1000),
    resyncCpuSeconds: round(cpuEnd - cpuStart),
    peak: procSample(pid),
  };
}

interface WriteCost {
  createMs: Summary;
  getMs: Summary;
  perSecond: (inFlight: number) => Promise<number>;
}

/** Sequential creates and GETs of small ConfigMaps, and create throughput at a given concurrency. */
async function writeCost(http: KubeHttp, namespace: string, prefix: string): Promise<WriteCost> {
  let next = 0;
  const create = (): Promise<unknown> =>
    http.request("POST", `/api/v1/namespaces/${namespace}/configmaps`, {
      body: {
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: { name: `${prefix}-${next++}` },
        data: { k: "v" },
      },
    });
  for (let i = 0; i < 20; i++) await create(); // warm up connections and caches
  const creates: number[] = [];
  for (let i = 0; i < 200; i++) {
    const t = nowMs();
    await create();
    creates.push(nowMs() - t);
  }
  const gets: number[] = [];
  for (let i = 0; i < 200; i++) {
    const t = nowMs();
    await http.request("GET", `/api/v1/namespaces/${namespace}/configmaps/${prefix}-${20 + i}`);
    gets.push(nowMs() - t);
  }
  return {
    createMs: roundSummary(summarize(creates)),
    getMs: roundSummary(summarize(gets)),
    perSecond: async (inFlight) => {
      const count = 400;
      const t = nowMs();
      await mapLimit(
        Array.from({ length: count }, (_, i) => i),
        inFlight,
        create,
      );
      return round(count / ((nowMs() - t) / 1000));
    },
  };
}

/** What one write costs on this machine: the floor the provisioning numbers are compared with. */
export async function measureFloor(cluster: Cluster): Promise<FloorResult> {
  const namespace = await createNamespace(cluster.http, "bench-floor");
  try {
    const keepAlive = await writeCost(cluster.http, namespace, "ka");
    const inFlight4 = await keepAlive.perSecond(4);
    const inFlight16 = await keepAlive.perSecond(16);
    const product = await writeCost(cluster.productHttp, namespace, "product");
    return {
      createMs: keepAlive.createMs,
      getMs: keepAlive.getMs,
      writesPerSecond: { inFlight4, inFlight16 },
      product: {
        createMs: product.createMs,
        getMs: product.getMs,
        writesPerSecondInFlight4: await product.perSecond(4),
      },
    };
  } finally {
    await deleteNamespace(cluster.http, namespace);
  }
}
