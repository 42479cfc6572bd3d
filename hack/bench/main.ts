// `npm run bench`: the operator and runtime benchmarks of docs/benchmarks.md.
// Uses the cluster KUBECONFIG names; without one it starts the local control
// plane (or reuses a running one) as hack/with-cluster.ts does, and stops it
// afterwards if it started it. Prints tables; writes the full results as JSON
// under .cache/bench/. It reports numbers and never fails on a target.
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, loadavg, release, totalmem } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { cacheDir, repoRoot } from "../plane/config.ts";
import { PlaneError } from "../plane/errors.ts";
import { useCluster } from "../plane/plane.ts";
import {
  connect,
  createDeployment,
  createNamespace,
  deleteNamespace,
  waitForRunningPods,
  type Cluster,
} from "./kube.ts";
import { installOperator, measureFloor, provision } from "./operator.ts";
import { startMetricsApi } from "../../test/support/metrics-api.ts";
import { measureCacheCost, measureImports, measureSpawnCost } from "./imports.ts";
import { prepareOriginals } from "./original.ts";
import {
  createRunnerAccount,
  grantMetricsRead,
  measureApiRuns,
  measureIdle,
  measureProcessJitter,
  measureReaction,
  type Runtime,
} from "./processes.ts";
import { CONCURRENT_API_MODE, renderReport, type Machine, type Results } from "./report.ts";
import { measureJitter, measureOverhead } from "./runtime.ts";
import {
  METHOD_KINDS,
  type MethodKind,
  prepareWorkDir,
  startStageServer,
  PER_RESOURCE,
  TARGETS,
  type TargetSpec,
  type WorkDir,
} from "./workload.ts";

const log = (line: string): void => {
  process.stderr.write(`[bench] ${new Date().toISOString().slice(11, 19)} ${line}\n`);
};

const SUITES = ["operator", "runtime", "process"] as const;
type Suite = (typeof SUITES)[number];

interface Options {
  sizes: number[];
  suites: Set<Suite>;
  cycles: number;
  warmup: number;
  budgetSeconds: number;
  apiRequests: number;
  apiBudgetSeconds: number;
  jitterCycles: number;
  reactionSamples: number;
  idleSeconds: number;
  resyncSeconds: number;
  createConcurrency: number;
  originals: boolean;
  profileDir: string | undefined;
  methods: MethodKind[];
  modes: string[];
}

const USAGE = `usage: npm run bench -- [options]
  --sizes=10,100,500      operator: CPAs provisioned at once, one run per size
  --concurrency=16        operator: CPA creates in flight while applying them
  --resync=20             operator: its --resync in seconds (the steady-state pass waits for one)
  --cycles=1000           runtime: cycles per method and mode (in process)
  --budget=120            runtime: at most this many seconds per method and mode
  --api-requests=100      side by side: REST API evaluations per runtime, method and mode (4 a second at most)
  --api-budget=45         side by side: at most this many seconds each
  --jitter-cycles=60      loop jitter at a 1 s interval: cycles
  --reaction-samples=20   metric change -> /scale: samples
  --idle-seconds=45       idle RSS: how long the runtimes idle first
  --only=operator,runtime,process
  --no-originals          leave the original Go implementations out, even where the environment names them
                          (CPA_ORIGINAL_OPERATOR, CPA_ORIGINAL_RUNTIME: a source folder, built into
                          .cache/originals, or a binary; see docs/benchmarks.md)
  --methods=module,sh,python,http               runtime and side by side: only these methods
  --modes=per-resource,per-pod 10,per-pod 100,per-pod 100 x4   and only these modes
                          (x4: ours with metricConcurrency 4, the original one Pod after another)
  --jitter-cycles, --reaction-samples or --idle-seconds set to 0 skips that measurement
  --profile=DIR           a CPU profile (node --cpu-prof) of each operator process into DIR
  --quick                 small numbers everywhere, to check the benchmark itself`;

function parseOptions(args: string[]): Options {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      sizes: { type: "string" },
      cycles: { type: "string" },
      warmup: { type: "string" },
      budget: { type: "string" },
      "api-requests": { type: "string" },
      "api-budget": { type: "string" },
      "jitter-cycles": { type: "string" },
      "reaction-samples": { type: "string" },
      "idle-seconds": { type: "string" },
      resync: { type: "string" },
      concurrency: { type: "string" },
      only: { type: "string" },
      "no-originals": { type: "boolean", default: false },
      quick: { type: "boolean", default: false },
      profile: { type: "string" },
      methods: { type: "string" },
      modes: { type: "string" },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  const q = values.quick;
  const num = (v: string | undefined, full: number, quick: number): number => {
    const n = v === undefined ? (q ? quick : full) : Number(v);
    if (!Number.isFinite(n) || n < 0) throw new Error(`not a number: ${v ?? ""}\n${USAGE}`);
    return n;
  };
  const only = (values.only ?? SUITES.join(",")).split(",").map((s) => s.trim());
  for (const s of only)
    if (!(SUITES as readonly string[]).includes(s)) throw new Error(`unknown suite ${s}\n${USAGE}`);
  return {
    sizes: (values.sizes ?? (q ? "10" : "10,100,500")).split(",").map(Number),
    suites: new Set(only as Suite[]),
    cycles: num(values.cycles, 1000, 50),
    warmup: num(values.warmup, 20, 5),
    budgetSeconds: num(values.budget, 120, 15),
    apiRequests: num(values["api-requests"], 100, 20),
    apiBudgetSeconds: num(values["api-budget"], 45, 10),
    jitterCycles: num(values["jitter-cycles"], 60, 10),
    reactionSamples: num(values["reaction-samples"], 20, 5),
    idleSeconds: num(values["idle-seconds"], 45, 20),
    resyncSeconds: num(values.resync, 20, 15),
    createConcurrency: num(values.concurrency, 16, 16),
    originals: !values["no-originals"],
    profileDir: values.profile,
    methods: (values.methods?.split(",") ?? METHOD_KINDS).filter((m): m is MethodKind =>
      (METHOD_KINDS as readonly string[]).includes(m),
    ),
    modes: values.modes?.split(",") ?? [...TARGETS.map((t) => t.mode), CONCURRENT_API_MODE, K8S_METRICS_MODE],
  };
}

/** HEAD and the product files that differ from it: what this run measures. */
function codeState(): string {
  const git = (...args: string[]): string => {
    try {
      // trimEnd: porcelain lines start with a space when only the worktree changed.
      return execFileSync("git", args, { cwd: repoRoot, encoding: "utf8" }).trimEnd();
    } catch {
      return "";
    }
  };
  const dirty = git("status", "--porcelain", "--", "src", "bin", "package.json")
    .split("\n")
    .filter(Boolean)
    .map((l) => l.slice(3));
  const head = git("rev-parse", "--short", "HEAD") || "unknown";
  return dirty.length ? `${head} + uncommitted ${dirty.join(", ")}` : head;
}

const loadAverage = (): number[] => loadavg().map((l) => Math.round(l * 100) / 100);

async function machine(cluster: Cluster): Promise<Machine> {
  const version = await cluster.http.request<{ gitVersion: string }>("GET", "/version");
  return {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? "unknown",
    memoryGb: Math.round((totalmem() / 1024 ** 3) * 10) / 10,
    kernel: release(),
    node: process.version,
    kubernetes: version.gitVersion,
    loadAverage: { start: loadAverage() },
  };
}

const REACTION_TARGET: TargetSpec = {
  mode: "per-resource",
  runMode: "per-resource",
  name: "react",
  replicas: 2,
};

/** One namespace for every runtime benchmark: the targets (1, 10, 100 Pods), their CPAs, a ServiceAccount. */
async function runtimeNamespace(cluster: Cluster): Promise<string> {
  const { http } = cluster;
  const namespace = await createNamespace(http, "bench-rt");
  await createRunnerAccount(cluster, namespace);
  for (const t of [...TARGETS, REACTION_TARGET]) {
    await createDeployment(http, namespace, t.name, t.replicas);
    // The CPA the in-process autoscaler reports status on; no operator runs now, so nothing is provisioned.
    await http.request(
      "POST",
      `/apis/custompodautoscaler.com/v1/namespaces/${namespace}/custompodautoscalers`,
      {
        body: {
          apiVersion: "custompodautoscaler.com/v1",
          kind: "CustomPodAutoscaler",
          metadata: { name: `rt-${t.name}` },
          spec: {
            template: { spec: { containers: [{ name: "autoscaler", image: "cpa-bench:latest" }] } },
            scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: t.name },
          },
        },
      },
    );
  }
  for (const t of [...TARGETS, REACTION_TARGET])
    await waitForRunningPods(http, namespace, `app=${t.name}`, t.replicas);
  return namespace;
}

async function runtimeSuite(
  cluster: Cluster,
  namespace: string,
  work: WorkDir,
  serverUrl: string,
  opts: Options,
  results: Results,
): Promise<void> {
  const targets = TARGETS.filter((t) => opts.modes.includes(t.mode));
  for (const method of opts.methods) {
    for (const target of targets) {
      log(`runtime: ${method}, ${target.mode}: up to ${opts.cycles} cycles or ${opts.budgetSeconds} s`);
      results.overhead.push(
        await measureOverhead(cluster, namespace, work, serverUrl, method, target, {
          cycles: opts.cycles,
          warmup: opts.warmup,
          budgetSeconds: opts.budgetSeconds,
        }),
      );
    }
  }
  if (opts.jitterCycles > 0) {
    log(`runtime: loop jitter in process, ${opts.jitterCycles} cycles at 1 s`);
    results.jitter = await measureJitter(cluster, namespace, work, PER_RESOURCE, 1000, opts.jitterCycles);
  }
}

/** The side-by-side mode with a Resource metric from metrics.k8s.io (per-pod 10, sh). */
const K8S_METRICS_MODE = "per-pod 10 + kubernetesMetricSpecs";
/**
 * A dry-run evaluation that also gathers a Resource metric (CPU, AverageValue)
 * for the 10 Pods of a target, served by the tests' metrics API server through
 * the aggregation layer: both runtimes read the same metrics.
 */
async function kubernetesMetricsSideBySide(
  cluster: Cluster,
  namespace: string,
  work: WorkDir,
  serverUrl: string,
  goBinary: string | undefined,
  runtimes: Runtime[],
  opts: Options,
  results: Results,
): Promise<void> {
  const target = TARGETS.find((t) => t.mode === "per-pod 10");
  if (!target) return;
  log("side by side: serving metrics.k8s.io for the per-pod 10 target");
  const api = await startMetricsApi(cluster.kc);
  try {
    await grantMetricsRead(cluster, namespace);
    const pods = await cluster.http.request<{ items: { metadata: { name: string } }[] }>(
      "GET",
      `/api/v1/namespaces/${namespace}/pods`,
      { query: { labelSelector: `app=${target.name}` } },
    );
    api.state.pods[namespace] = Object.fromEntries(
      pods.items.map((p) => [p.metadata.name, { app: { cpu: "100m", memory: "64Mi" } }]),
    );
    const extra = {
      kubernetesMetricSpecs: [
        {
          type: "Resource",
          resource: { name: "cpu", target: { type: "AverageValue", averageValue: "100m" } },
        },
      ],
      requireKubernetesMetrics: true,
    };
    for (const runtime of runtimes) {
      log(`side by side: ${runtime}, sh, ${K8S_METRICS_MODE}: REST API dry-run evaluations`);
      results.api.push(
        await measureApiRuns(cluster, runtime, goBinary, namespace, work, serverUrl, "sh", target, {
          requests: opts.apiRequests,
          warmup: 5,
          budgetSeconds: opts.apiBudgetSeconds,
          extra,
          mode: K8S_METRICS_MODE,
        }),
      );
    }
  } finally {
    await api.close();
  }
}

/** CONCURRENT_API_MODE: ours with metricConcurrency 4, the original as it runs (one Pod after another). */
async function concurrentSideBySide(
  cluster: Cluster,
  namespace: string,
  work: WorkDir,
  serverUrl: string,
  goBinary: string | undefined,
  runtimes: Runtime[],
  opts: Options,
  results: Results,
): Promise<void> {
  const target = TARGETS.find((t) => t.mode === "per-pod 100");
  if (!target) return;
  for (const method of opts.methods.filter((m) => m !== "module")) {
    for (const runtime of runtimes) {
      log(`side by side: ${runtime}, ${method}, ${CONCURRENT_API_MODE}: REST API dry-run evaluations`);
      results.api.push(
        await measureApiRuns(cluster, runtime, goBinary, namespace, work, serverUrl, method, target, {
          requests: opts.apiRequests,
          warmup: 5,
          budgetSeconds: opts.apiBudgetSeconds,
          // The original has no such key.
          ...(runtime === "ours" ? { extra: { metricConcurrency: 4 } } : {}),
          mode: CONCURRENT_API_MODE,
        }),
      );
    }
  }
}

async function processSuite(
  cluster: Cluster,
  namespace: string,
  work: WorkDir,
  serverUrl: string,
  goBinary: string | undefined,
  opts: Options,
  results: Results,
): Promise<void> {
  const runtimes: Runtime[] = goBinary ? ["ours", "go"] : ["ours"];
  for (const method of opts.methods.filter((m) => m !== "module")) {
    for (const target of TARGETS.filter((t) => opts.modes.includes(t.mode))) {
      for (const runtime of runtimes) {
        log(`side by side: ${runtime}, ${method}, ${target.mode}: REST API dry-run evaluations`);
        results.api.push(
          await measureApiRuns(cluster, runtime, goBinary, namespace, work, serverUrl, method, target, {
            requests: opts.apiRequests,
            warmup: 5,
            budgetSeconds: opts.apiBudgetSeconds,
          }),
        );
      }
    }
  }
  if (opts.modes.includes(CONCURRENT_API_MODE))
    await concurrentSideBySide(cluster, namespace, work, serverUrl, goBinary, runtimes, opts, results);
  if (opts.modes.includes(K8S_METRICS_MODE))
    await kubernetesMetricsSideBySide(cluster, namespace, work, serverUrl, goBinary, runtimes, opts, results);
  for (const runtime of opts.jitterCycles > 0 ? runtimes : []) {
    log(`process: ${runtime} loop jitter, ${opts.jitterCycles} cycles at 1 s`);
    results.processJitter.push(
      await measureProcessJitter(
        cluster,
        runtime,
        goBinary,
        namespace,
        work,
        PER_RESOURCE,
        opts.jitterCycles,
      ),
    );
  }
  for (const runtime of opts.reactionSamples > 0 ? runtimes : []) {
    log(`process: ${runtime} reaction, ${opts.reactionSamples} metric changes`);
    results.reaction.push(
      await measureReaction(
        cluster,
        runtime,
        goBinary,
        namespace,
        work,
        REACTION_TARGET,
        opts.reactionSamples,
      ),
    );
  }
  if (opts.idleSeconds === 0) return;
  log(`process: idle RSS after ${opts.idleSeconds} s at the default 15 s interval`);
  results.idle.push(
    ...(await measureIdle(
      cluster,
      runtimes.map((runtime) => ({ runtime, goBinary })),
      namespace,
      work,
      PER_RESOURCE,
      opts.idleSeconds,
    )),
  );
}

async function benchmark(cluster: Cluster, opts: Options, results: Results): Promise<void> {
  const { suites } = opts;
  let goBinary: string | undefined;
  let goOperator: string | undefined;
  if (opts.originals) {
    log("originals: preparing the Go implementations the environment names");
    results.originals = await prepareOriginals(log);
    goBinary = results.originals.runtime?.binary;
    goOperator = results.originals.operator?.binary;
    for (const [name, why] of Object.entries(results.originals.absent)) log(`originals: no ${name}: ${why}`);
  }
  // What the image ships: our processes run compiled and bundled (bin/cpa with CPA_USE_DIST=1).
  log(
    "building the sources, as the image does (npm run build: tsc, then the bundle; npm run build:native: the spawn helper)",
  );
  for (const script of ["build", "build:native"]) {
    execFileSync("npm", ["run", "--silent", script], {
      cwd: repoRoot,
      stdio: ["ignore", "ignore", "inherit"],
    });
  }
  process.env["CPA_USE_DIST"] = "1";
  log("installing config/cluster.yaml (the operator's Deployment scaled to 0: it runs as a local process)");
  await installOperator(cluster);
  if (suites.has("operator")) {
    log("operator: heap per cached object");
    results.cache = measureCacheCost();
    log("floor: loopback create latency");
    results.floor = await measureFloor(cluster);
    const operatorOptions = {
      sizes: opts.sizes,
      createConcurrency: opts.createConcurrency,
      resyncSeconds: opts.resyncSeconds,
      profileDir: opts.profileDir,
      log,
    };
    for (const n of opts.sizes) {
      results.provisioning.push(await provision(cluster, n, operatorOptions));
      // The same CPAs, applied the same way, with the same credentials.
      if (goOperator)
        results.provisioning.push(
          await provision(cluster, n, operatorOptions, { kind: "go", binary: goOperator }),
        );
    }
  }
  if (!suites.has("runtime") && !suites.has("process")) return;
  log("runtime: import costs and spawn cost by process size");
  results.imports = measureImports();
  results.spawn = measureSpawnCost();
  const work = prepareWorkDir();
  const server = await startStageServer(work);
  log("runtime: preparing targets with 1, 10 and 100 Pods");
  const namespace = await runtimeNamespace(cluster);
  try {
    if (suites.has("runtime")) await runtimeSuite(cluster, namespace, work, server.url, opts, results);
    if (suites.has("process"))
      await processSuite(cluster, namespace, work, server.url, goBinary, opts, results);
  } finally {
    server.stop();
    work.remove();
    await deleteNamespace(cluster.http, namespace);
  }
}

async function main(): Promise<number> {
  const opts = parseOptions(process.argv.slice(2));
  const { kubeconfig, release } = await useCluster(log);
  // The operator's ServiceAccount kubeconfig is minted through the admin config KUBECONFIG names.
  process.env["KUBECONFIG"] = kubeconfig;
  const cluster = connect(kubeconfig);
  const results: Results = {
    code: { start: codeState() },
    startedAt: new Date().toISOString(),
    machine: await machine(cluster),
    options: { ...opts, suites: [...opts.suites] },
    provisioning: [],
    overhead: [],
    processJitter: [],
    reaction: [],
    idle: [],
    api: [],
    errors: [],
  };
  try {
    await benchmark(cluster, opts, results);
  } catch (err) {
    results.errors.push(err instanceof Error ? (err.stack ?? err.message) : String(err));
  } finally {
    results.finishedAt = new Date().toISOString();
    results.machine.loadAverage.end = loadAverage();
    results.code.end = codeState();
    const dir = join(cacheDir, "bench");
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `results-${results.startedAt.replaceAll(":", "-")}.json`);
    writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
    writeFileSync(join(dir, "latest.json"), `${JSON.stringify(results, null, 2)}\n`);
    process.stdout.write(`${renderReport(results)}\n\nResults: ${file}\n`);
    await release();
  }
  return results.errors.length > 0 ? 1 : 0;
}

try {
  process.exitCode = await main();
} catch (err) {
  if (!(err instanceof PlaneError)) throw err;
  log(`error: the control plane could not start, so no benchmark ran.\n${err.message}`);
  process.exitCode = 1;
}
