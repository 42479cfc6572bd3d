// What the benchmarks need from the cluster and the machine: the admin
// connection (the product's own transport), namespaces, bounded-concurrency
// creates, watches timed at receipt, polling, and /proc readings.
import { readdirSync, readFileSync } from "node:fs";
import { basename, dirname } from "node:path";
import https from "node:https";
import { randomBytes } from "node:crypto";
import { KubeConfig } from "@kubernetes/client-node";
import { KubeHttp, isNotFound } from "../../src/kube/http.ts";
import type { KubeObject } from "../../src/kube/objects.ts";
import { eventually } from "../../test/support/kube.ts";

export interface Cluster {
  kubeconfig: string;
  /** The admin config as the product loads it: code under test gets this one. */
  kc: KubeConfig;
  /** The benchmark's own client: keeps its connections open, so driving load costs little CPU. */
  http: KubeHttp;
  /** The product's transport with the admin config (for the floor: what a request costs it). */
  productHttp: KubeHttp;
}

/**
 * A KubeConfig whose HTTPS agent keeps connections alive, for the benchmark's
 * own requests: client-node's agent does not (a new https.Agent defaults to
 * keepAlive: false), and a TLS handshake per request would take CPU from what
 * is being measured.
 */
class KeepAliveKubeConfig extends KubeConfig {
  #agent: https.Agent | undefined;

  override async applyToHTTPSOptions(opts: Parameters<KubeConfig["applyToHTTPSOptions"]>[0]): Promise<void> {
    await super.applyToHTTPSOptions(opts);
    const o = opts as https.RequestOptions;
    this.#agent ??= new https.Agent({
      keepAlive: true,
      ...(o.ca === undefined ? {} : { ca: o.ca }),
      ...(o.cert === undefined ? {} : { cert: o.cert }),
      ...(o.key === undefined ? {} : { key: o.key }),
      ...(o.rejectUnauthorized === undefined ? {} : { rejectUnauthorized: o.rejectUnauthorized }),
    });
    o.agent = this.#agent;
  }
}

export function connect(kubeconfig: string): Cluster {
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfig);
  const keepAlive = new KeepAliveKubeConfig();
  keepAlive.loadFromFile(kubeconfig);
  return {
    kubeconfig,
    kc,
    http: new KubeHttp(keepAlive),
    productHttp: new KubeHttp(kc),
  };
}

/** Wall-clock milliseconds with sub-millisecond resolution. */
export const nowMs = (): number => performance.timeOrigin + performance.now();

export const sleepMs = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls fn until it returns something other than undefined (the tests' helper, polling faster). */
export function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 60_000,
  pollMs = 100,
): Promise<T> {
  return eventually(what, fn, timeoutMs, pollMs);
}

/** Runs fn over items with at most `limit` in flight. */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** A namespace of the benchmark's own, with its default ServiceAccount (Pods need it). */
export async function createNamespace(http: KubeHttp, prefix: string): Promise<string> {
  const name = `${prefix}-${randomBytes(3).toString("hex")}`;
  await http.request("POST", "/api/v1/namespaces", {
    body: { apiVersion: "v1", kind: "Namespace", metadata: { name, labels: { "cpa-bench": "true" } } },
  });
  await waitFor(`the default ServiceAccount in ${name}`, () =>
    http.request("GET", `/api/v1/namespaces/${name}/serviceaccounts/default`),
  );
  return name;
}

/** Deletes a namespace and waits until it is gone, so its teardown does not load the next measurement. */
export async function deleteNamespace(http: KubeHttp, name: string, timeoutMs = 300_000): Promise<void> {
  await http.request("DELETE", `/api/v1/namespaces/${name}`).catch((err: unknown) => {
    if (!isNotFound(err)) throw err;
  });
  await waitFor(
    `namespace ${name} to be deleted`,
    async () => {
      try {
        await http.request("GET", `/api/v1/namespaces/${name}`);
        return undefined;
      } catch (err) {
        if (isNotFound(err)) return true;
        throw err;
      }
    },
    timeoutMs,
    500,
  );
}

export function deployment(name: string, replicas: number): KubeObject & Record<string, unknown> {
  const labels = { app: name };
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name, labels },
    spec: {
      replicas,
      selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: { containers: [{ name: "app", image: "registry.k8s.io/pause:3.10" }] },
      },
    },
  };
}

export async function createDeployment(
  http: KubeHttp,
  namespace: string,
  name: string,
  replicas: number,
): Promise<void> {
  await http.request("POST", `/apis/apps/v1/namespaces/${namespace}/deployments`, {
    body: deployment(name, replicas),
  });
}

interface PodList {
  items: { status?: { phase?: string }; metadata?: { deletionTimestamp?: string } }[];
}

/** Waits until `count` Pods matching the selector are Running (kwok runs them). */
export async function waitForRunningPods(
  http: KubeHttp,
  namespace: string,
  labelSelector: string,
  count: number,
  timeoutMs = 180_000,
): Promise<void> {
  await waitFor(
    `${count} Running Pods (${labelSelector}) in ${namespace}`,
    async () => {
      const list = await http.request<PodList>("GET", `/api/v1/namespaces/${namespace}/pods`, {
        query: { labelSelector },
      });
      const running = list.items.filter(
        (p) => p.status?.phase === "Running" && !p.metadata?.deletionTimestamp,
      );
      return running.length === count && list.items.length === count ? true : undefined;
    },
    timeoutMs,
    500,
  );
}

export type WatchEventType = "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK" | "ERROR";
export type WatchHandler<T> = (type: WatchEventType, obj: T, receivedAtMs: number) => void;

export interface Watch {
  stop(): void;
}

/**
 * Lists, then watches from the list's resourceVersion, so nothing created after
 * this resolves is missed; each event is timed on receipt. Restarts the stream
 * when the server ends it.
 */
export async function watch<T extends KubeObject>(
  http: KubeHttp,
  path: string,
  query: Record<string, string>,
  onEvent: WatchHandler<T>,
): Promise<Watch> {
  const list = await http.request<{ metadata: { resourceVersion: string } }>("GET", path, { query });
  let resourceVersion = list.metadata.resourceVersion;
  const abort = new AbortController();
  const stopped = (): boolean => abort.signal.aborted;
  const loop = async (): Promise<void> => {
    while (!stopped()) {
      try {
        await http.stream(path, {
          query: { ...query, watch: 1, resourceVersion, allowWatchBookmarks: true, timeoutSeconds: 600 },
          onLine: (line) => {
            const at = nowMs();
            const event = JSON.parse(line) as { type: WatchEventType; object: T };
            const rv = event.object.metadata?.resourceVersion;
            if (rv) resourceVersion = rv;
            if (event.type !== "BOOKMARK") onEvent(event.type, event.object, at);
          },
          signal: abort.signal,
          idleMs: 700_000,
        });
      } catch {
        if (!stopped()) await sleepMs(200);
      }
    }
  };
  void loop();
  return {
    stop: () => {
      abort.abort();
    },
  };
}

export interface ProcSample {
  rssMb: number;
  /** Peak RSS so far (VmHWM). */
  peakRssMb: number;
  /** User + system CPU seconds so far. */
  cpuSeconds: number;
}

const CLOCK_TICKS = 100;

/** RSS, peak RSS and CPU time of a process, from /proc. */
export function procSample(pid: number): ProcSample {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (key: string): number =>
    Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN);
  // Fields after the command name (which may hold spaces) start at state, field 3.
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]); // utime (14) + stime (15)
  return { rssMb: kb("VmRSS") / 1024, peakRssMb: kb("VmHWM") / 1024, cpuSeconds: ticks / CLOCK_TICKS };
}

/** Busy CPU seconds of the whole machine so far (all cores), from /proc/stat. */
export function machineBusySeconds(): number {
  const [, ...fields] = (readFileSync("/proc/stat", "utf8").split("\n")[0] ?? "").trim().split(/\s+/);
  const ticks = fields.map(Number);
  const total = ticks.reduce((a, b) => a + b, 0);
  const idle = (ticks[3] ?? 0) + (ticks[4] ?? 0); // idle + iowait
  return (total - idle) / CLOCK_TICKS;
}

/**
 * The local control plane's processes, when KUBECONFIG is the plane's own
 * (hack/plane puts every component's files in the kubeconfig's folder, so their
 * command lines name it). Empty for any other cluster.
 */
export function planeProcesses(kubeconfig: string): { name: string; pid: number }[] {
  const dir = `${dirname(kubeconfig)}/`;
  const found: { name: string; pid: number }[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    let argv: string[];
    try {
      argv = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0");
    } catch {
      continue; // gone meanwhile
    }
    if (!argv.some((a) => a.includes(dir))) continue;
    const program = basename(argv[0] ?? "");
    if (!program.startsWith("kube-plane") && !program.startsWith("kwok")) continue;
    found.push({
      name: program.startsWith("kube-plane") ? (argv[1] ?? program) : "kwok",
      pid: Number(entry),
    });
  }
  return found;
}

export interface CpuSnapshot {
  at: number;
  machine: number;
  bench: number;
  processes: Record<string, number>;
}

/** CPU seconds so far of the machine, this process, and the named processes. */
export function cpuSnapshot(processes: { name: string; pid: number }[]): CpuSnapshot {
  const usage = process.cpuUsage();
  const named: Record<string, number> = {};
  for (const p of processes) {
    try {
      named[p.name] = (named[p.name] ?? 0) + procSample(p.pid).cpuSeconds;
    } catch {
      // exited
    }
  }
  return {
    at: nowMs(),
    machine: machineBusySeconds(),
    bench: (usage.user + usage.system) / 1e6,
    processes: named,
  };
}

export interface CpuBreakdown {
  wallSeconds: number;
  /** Busy CPU seconds of the whole machine (2 cores: at most 2 × wall). */
  machine: number;
  bench: number;
  processes: Record<string, number>;
  /** Busy time nobody above accounts for: other work on the machine. */
  other: number;
}

export function cpuBetween(a: CpuSnapshot, b: CpuSnapshot): CpuBreakdown {
  const processes = Object.fromEntries(
    Object.entries(b.processes).map(([k, v]) => [k, Math.round((v - (a.processes[k] ?? 0)) * 100) / 100]),
  );
  const machine = b.machine - a.machine;
  const bench = b.bench - a.bench;
  const known = bench + Object.values(processes).reduce((x, y) => x + y, 0);
  const r = (x: number): number => Math.round(x * 100) / 100;
  return {
    wallSeconds: r((b.at - a.at) / 1000),
    machine: r(machine),
    bench: r(bench),
    processes,
    other: r(Math.max(0, machine - known)),
  };
}
