// Runs the original's examples (corpus.ts) on the local cluster as their
// READMEs do: build the image (only FROM changed), `kubectl apply -f` the
// target's manifest and `cpa.yaml`, then drive what the README says to do
// (relabel, load, increment) and watch the target's replicas. Each example in a
// namespace of its own, set as the kubeconfig context's namespace, so their
// manifests apply unchanged (one names `namespace: default` for its Service).
// Pods run on the local kubelet: the autoscalers and flask-metric as real
// containers on the Pod network; targets whose images are on Docker Hub or
// k8s.gcr.io (out of reach here) are simulated, which none of them needs more.
import { execFile } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { KubeConfig } from "@kubernetes/client-node";
import { parse, stringify } from "yaml";
import { buildUserImage } from "../image/build.ts";
import { mustTool, tool } from "../image/containers.ts";
import { Journey } from "../journey.ts";
import type { LocalKubelet } from "../local-pods/kubelet.ts";
import type { MetricsApi } from "../../test/support/metrics-api.ts";
import {
  FLASK_METRIC,
  PYTHON_STAND_IN,
  rewriteDockerfile,
  withConfigEntry,
  type Behaviour,
  type Example,
  type Flavour,
  type Result,
} from "./corpus.ts";

export type Log = (line: string) => void;

export interface Env {
  /** The original runtime's checkout (it has example/). */
  original: string;
  kubeconfig: string;
  admin: KubeConfig;
  kubelet: LocalKubelet;
  metricsApi?: MetricsApi;
  log: Log;
  /** Per wait for a state the README describes. */
  timeoutMs: number;
}

export class CheckError extends Error {
  override readonly name = "CheckError";
}

/** Runs a command; rejects with its stderr when it fails. Never synchronous: the local kubelet runs in this process. */
export const run = (cmd: string, args: string[], env: NodeJS.ProcessEnv, input?: string): Promise<string> =>
  new Promise((resolve, reject) => {
    const child = execFile(cmd, args, { env, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new CheckError(`${cmd} ${args.join(" ")}: ${stderr.trim() || err.message}`));
      else resolve(stdout);
    });
    if (input !== undefined) child.stdin?.end(input);
  });

export const exampleDir = (env: Pick<Env, "original">, name: string): string =>
  join(env.original, "example", name);

/** The folder of the examples, or why it is not a checkout of the original runtime. */
export function checkOriginal(dir: string): string | undefined {
  if (!existsSync(join(dir, "example")))
    return `${dir} has no example/ folder: point --original at a checkout of github.com/jthomperoo/custom-pod-autoscaler (say, git archive v2.12.2)`;
  return undefined;
}

/**
 * Builds an example's image as its README does (`docker build -t NAME .`),
 * from a copy of its folder with the Dockerfile rewritten; the Go example is
 * compiled first, as its Makefile does. Returns the lines that changed.
 */
export async function buildExample(env: Env, example: Example, flavour: Flavour): Promise<string[]> {
  const source = exampleDir(env, example.name);
  const context = mkdtempSync(join(tmpdir(), `cpa-compat-${example.name}-`));
  try {
    cpSync(source, context, { recursive: true });
    const dockerfile = join(context, "Dockerfile");
    const standIn = example === FLASK_METRIC ? [PYTHON_STAND_IN] : [];
    const rewritten = rewriteDockerfile(
      readFileSync(dockerfile, "utf8"),
      flavour,
      [...standIn, ...(example.changes ?? [])],
      `example/${example.name}/Dockerfile`,
    );
    writeFileSync(dockerfile, rewritten.text);
    if (example.needs.includes("go-build")) {
      env.log(`${example.name}: go build (its Makefile's step), modules from the Go module proxy`);
      // In the original's own folder: its go.mod replaces the runtime module with ../../
      await run(
        "nice",
        ["-n", "19", "go", "-C", source, "build", "-o", join(context, "dist", example.name)],
        {
          ...process.env,
          CGO_ENABLED: "0",
          GOOS: "linux",
          GOTOOLCHAIN: "local",
          GOFLAGS: "-buildvcs=false",
        },
      );
    }
    env.log(`${example.name}: building ${example.name}:latest (${rewritten.changed[0]?.now ?? "?"})`);
    await buildUserImage(`${example.name}:latest`, context);
    return rewritten.changed.map((c) => `${c.was} → ${c.now}`);
  } finally {
    rmSync(context, { recursive: true, force: true });
  }
}

/** Pushes an image to the plane's registry as the docker.io mirror serves it (library/NAME:TAG). */
export async function pushToMirror(env: Env, image: string): Promise<void> {
  const registry = env.kubelet.registry;
  if (!registry)
    throw new CheckError("the local plane has no registry to push to (npm run cluster:up starts one)");
  await mustTool("podman", ["push", "--tls-verify=false", image, `${registry}/library/${image}`]);
}

/** The examples' own Rollout type, as a CRD with the scale subresource (Argo Rollouts' controller is not needed). */
export const ROLLOUT_CRD = {
  apiVersion: "apiextensions.k8s.io/v1",
  kind: "CustomResourceDefinition",
  metadata: { name: "rollouts.argoproj.io" },
  spec: {
    group: "argoproj.io",
    names: {
      kind: "Rollout",
      listKind: "RolloutList",
      plural: "rollouts",
      singular: "rollout",
      shortNames: ["ro"],
    },
    scope: "Namespaced",
    versions: [
      {
        name: "v1alpha1",
        served: true,
        storage: true,
        schema: { openAPIV3Schema: { type: "object", "x-kubernetes-preserve-unknown-fields": true } },
        subresources: {
          status: {},
          scale: {
            specReplicasPath: ".spec.replicas",
            statusReplicasPath: ".status.replicas",
            labelSelectorPath: ".status.selector",
          },
        },
      },
    ],
  },
};

/** A stand-in for random.org's integer API: answers `value` as plain text and records each query. */
export interface NumberServer {
  url: string;
  value: number;
  queries: URLSearchParams[];
  close(): Promise<void>;
}

export async function startNumberServer(host: string): Promise<NumberServer> {
  const state = { value: 4, queries: [] as URLSearchParams[] };
  const server: Server = createServer((req, res) => {
    state.queries.push(new URL(req.url ?? "/", "http://x").searchParams);
    res.writeHead(200, { "content-type": "text/plain" }).end(`${state.value}\n`);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject).listen(0, host, resolve);
  });
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return {
    url: `http://${host}:${port}/integers/?num=1&min=1&max=5&col=1&base=10&format=plain&rnd=new`,
    get value() {
      return state.value;
    },
    set value(v: number) {
      state.value = v;
    },
    queries: state.queries,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
        server.closeAllConnections();
      }),
  };
}

/** One example's run: its namespace, its kubectl, and the waits its README's states need. */
class ExampleRun {
  readonly #env: Env;
  readonly #kubeEnv: NodeJS.ProcessEnv;
  readonly namespace: string;
  readonly dir: string;
  readonly journey: Journey;
  readonly steps: string[] = [];

  readonly example: Example;

  constructor(env: Env, example: Example, kubeconfig: string) {
    this.#env = env;
    this.example = example;
    this.namespace = `compat-${example.name}`;
    this.dir = exampleDir(env, example.name);
    this.#kubeEnv = { ...process.env, KUBECONFIG: kubeconfig };
    this.journey = new Journey({
      kubectl: (args) => this.kubectl(args),
      admin: env.admin,
      kubelet: env.kubelet,
      timeoutMs: env.timeoutMs,
    });
  }

  kubectl(args: string[], input?: string): Promise<string> {
    return run("kubectl", args, this.#kubeEnv, input);
  }

  log(line: string): void {
    this.#env.log(`${this.example.name}: ${line}`);
  }

  async replicas(kind: string, name: string): Promise<number> {
    const out = await this.kubectl(["get", `${kind}/${name}`, "-o", "jsonpath={.spec.replicas}"]);
    return Number(out.trim() || "0");
  }

  /** Waits for `kind/name` to have `want` replicas; records each change seen on the way. */
  async reach(kind: string, name: string, want: number): Promise<void> {
    const deadline = Date.now() + this.#env.timeoutMs;
    let last = await this.replicas(kind, name);
    if (this.steps.length === 0) this.steps.push(String(last));
    while (last !== want) {
      if (Date.now() > deadline)
        throw new CheckError(
          `${kind}/${name} stayed at ${last} replicas for ${this.#env.timeoutMs / 1000}s, expected ${want}. The autoscaler's log ends:\n${await this.autoscalerLog(15)}`,
        );
      await sleep(1000);
      const now = await this.replicas(kind, name).catch(() => last);
      if (now !== last) {
        this.steps.push(String(now));
        this.log(`${kind}/${name}: ${last} → ${now}`);
      }
      last = now;
    }
  }

  async autoscalerLog(tail?: number): Promise<string> {
    return this.kubectl(["logs", this.example.name, ...(tail ? [`--tail=${tail}`] : [])]).catch(
      (err: unknown) => `(no log: ${err instanceof Error ? err.message : String(err)})`,
    );
  }

  async podIPs(selector: string): Promise<{ name: string; ip: string; ready: boolean }[]> {
    const list = JSON.parse(await this.kubectl(["get", "pods", "-l", selector, "-o", "json"])) as {
      items: {
        metadata: { name: string; deletionTimestamp?: string };
        status?: { podIP?: string; conditions?: { type: string; status: string }[] };
      }[];
    };
    return list.items
      .filter((p) => !p.metadata.deletionTimestamp)
      .map((p) => ({
        name: p.metadata.name,
        ip: p.status?.podIP ?? "",
        ready: p.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false,
      }));
  }
}

/** kubeconfig for one namespace: a copy of the cluster's with the context's namespace set, as a user would. */
function namespacedKubeconfig(env: Env, namespace: string, dir: string): Promise<string> {
  const file = join(dir, "kubeconfig");
  cpSync(env.kubeconfig, file);
  return run("kubectl", ["config", "set-context", "--current", `--namespace=${namespace}`], {
    ...process.env,
    KUBECONFIG: file,
  }).then(() => file);
}

async function post(url: string): Promise<void> {
  const res = await fetch(url, { method: "POST" });
  if (!res.ok) throw new CheckError(`POST ${url}: ${res.status} ${await res.text()}`);
}

async function flaskPods(r: ExampleRun, want: number): Promise<{ name: string; ip: string }[]> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const pods = await r.podIPs("app=flask-metric");
    const ready = pods.filter((p) => p.ready && p.ip !== "");
    if (ready.length === want && pods.length === want) {
      // Ready is the container running; Flask needs a moment more to listen.
      const serving = await Promise.all(
        ready.map((p) =>
          fetch(`http://${p.ip}:5000/metric`)
            .then((res) => res.ok)
            .catch(() => false),
        ),
      );
      if (!serving.includes(false)) return ready;
    }
    if (Date.now() > deadline)
      throw new CheckError(`flask-metric: expected ${want} serving Pods, saw ${JSON.stringify(pods)}`);
    await sleep(1000);
  }
}

/** What a failed stage's log line says: the last line of its stderr (a traceback's error), else the line. */
export function stageError(line: string): string {
  try {
    const entry = JSON.parse(line) as { stage?: string; stderr?: string; msg?: string };
    const last = entry.stderr?.trim().split("\n").pop();
    return `its ${entry.stage ?? "stage"} stage failed: ${last ?? entry.msg ?? line}`;
  } catch {
    return line.slice(0, 300);
  }
}

/** The autoscaler's log lines that are JSON decisions (evaluation, current, desired, reason). */
function decisions(
  log: string,
): { evaluation?: number; current?: number; desired?: number; reason?: string }[] {
  return log
    .split("\n")
    .flatMap((line) => {
      try {
        return [JSON.parse(line) as Record<string, unknown>];
      } catch {
        return [];
      }
    })
    .filter((e) => "evaluation" in e)
    .map((e) => e as { evaluation?: number; current?: number; desired?: number; reason?: string });
}

type Drive = (env: Env, r: ExampleRun, server: NumberServer | undefined) => Promise<string>;

async function postScaleHook(env: Env, r: ExampleRun): Promise<string> {
  await r.reach("deployment", "hello-kubernetes", 3);
  const uid = (await r.kubectl(["get", "pod", r.example.name, "-o", "jsonpath={.metadata.uid}"])).trim();
  const data = await until(env, "the hook's /post_scale_data.json", async () => {
    const names = await tool("podman", [
      "ps",
      `--filter=label=io.kubernetes.pod.uid=${uid}`,
      "--format={{.Names}}",
    ]);
    const container = names.stdout.trim().split("\n")[0];
    if (!container) return undefined;
    const cat = await tool("podman", ["exec", container, "cat", "/post_scale_data.json"]);
    return cat.code === 0 ? (JSON.parse(cat.stdout) as Record<string, unknown>) : undefined;
  }).catch(async (err: unknown) => {
    // Say what the hook said: on the hardened image, that it may not write to /.
    const said = (await r.autoscalerLog())
      .split("\n")
      .filter((l) => /post_scale|Permission denied|postScale/i.test(l))
      .pop();
    throw said ? new CheckError(`the hook wrote no /post_scale_data.json: ${stageError(said)}`) : err;
  });
  if (data["targetReplicas"] !== 3 || data["currentReplicas"] !== 1)
    throw new CheckError(
      `/post_scale_data.json holds ${JSON.stringify(data)}: expected currentReplicas 1, targetReplicas 3`,
    );
  const keys = Object.keys(data).sort().join(", ");
  return `hello-kubernetes ${r.steps.join(" → ")}; /post_scale_data.json (read with podman exec) has currentReplicas 1, targetReplicas 3 among ${keys}`;
}

async function cpuUtilisation(env: Env, r: ExampleRun): Promise<string> {
  const api = env.metricsApi;
  if (!api) throw new CheckError("no metrics API");
  const load = { cpu: "150m", feeding: true };
  // metrics-server's view of every php-apache Pod, kept up as the Deployment grows and shrinks.
  const feed = (async () => {
    while (load.feeding) {
      const pods = await r.podIPs("run=php-apache").catch(() => []);
      api.state.pods[r.namespace] = Object.fromEntries(
        pods.map((p) => [p.name, { "php-apache": { cpu: load.cpu } }]),
      );
      await sleep(1000);
    }
  })();
  try {
    await r.reach("deployment", "php-apache", 3);
    load.cpu = "20m";
    await r.reach("deployment", "php-apache", 1);
  } finally {
    load.feeding = false;
    await feed;
  }
  return `php-apache ${r.steps.join(" → ")} (each Pod at 150m CPU of 200m requested, then 20m)`;
}

async function flask(r: ExampleRun, stabilised: boolean): Promise<string> {
  const [first] = await flaskPods(r, 1);
  if (!first) throw new CheckError("no flask-metric Pod");
  for (let i = 0; i < 5; i++) await post(`http://${first.ip}:5000/increment`);
  await r.reach("deployment", "flask-metric", 2);
  await flaskPods(r, 2);
  const decremented = Date.now();
  await post(`http://${first.ip}:5000/decrement`);
  await r.reach("deployment", "flask-metric", 1);
  const seconds = Math.round((Date.now() - decremented) / 1000);
  const what = `flask-metric ${r.steps.join(" → ")} (5 increments on one Pod, then a decrement)`;
  if (!stabilised) return `${what}; down ${seconds}s after the decrement`;
  const held = decisions(await r.autoscalerLog()).filter(
    (d) => d.evaluation === 1 && d.current === 2 && d.desired === 2,
  );
  if (held.length === 0)
    throw new CheckError(
      "no run held flask-metric at 2 while the evaluation said 1: downscaleStabilization did nothing",
    );
  return `${what}; held at 2 by ${held.length} runs that evaluated 1 (${held[0]?.reason ?? ""}), down ${seconds}s after the decrement`;
}

async function httpMetric(server: NumberServer | undefined, r: ExampleRun): Promise<string> {
  if (!server) throw new CheckError("no number server");
  await r.reach("deployment", "hello-kubernetes", 4);
  server.value = 2;
  await r.reach("deployment", "hello-kubernetes", 2);
  const value = server.queries.find((q) => q.has("value"))?.get("value");
  if (!value)
    throw new CheckError("the HTTP metric never sent the `value` query parameter (parameterMode: query)");
  const sent = Object.keys(JSON.parse(value) as object).join(", ");
  return `hello-kubernetes ${r.steps.join(" → ")} (the server answering 4, then 2); query parameter value had ${sent}`;
}

/** Each behaviour: what the example's README says to do, done, and what was seen. */
const DRIVES: Record<Behaviour, Drive> = {
  "label-times-two": async (_env, r) => {
    await r.reach("deployment", "hello-kubernetes", 6);
    return `hello-kubernetes ${r.steps.join(" → ")}`;
  },
  "zero-and-back": async (_env, r) => {
    await r.reach("deployment", "hello-kubernetes", 0);
    await r.kubectl(["label", "deployment/hello-kubernetes", "numPods=2", "--overwrite"]);
    await r.reach("deployment", "hello-kubernetes", 2);
    return `hello-kubernetes ${r.steps.join(" → ")} (relabelled numPods=2 at 0)`;
  },
  "post-scale-hook": (env, r) => postScaleHook(env, r),
  "rollout-label": async (_env, r) => {
    await r.reach("rollout", "rollouts-demo", 5);
    await r.kubectl(["label", "rollout/rollouts-demo", "numPods=3", "--overwrite"]);
    await r.reach("rollout", "rollouts-demo", 3);
    return `Rollout rollouts-demo ${r.steps.join(" → ")} (numPods relabelled 3)`;
  },
  "cpu-utilisation": (env, r) => cpuUtilisation(env, r),
  "flask-up-down": (_env, r) => flask(r, false),
  "flask-downscale-stabilised": (_env, r) => flask(r, true),
  "http-metric": (_env, r, server) => httpMetric(server, r),
};

async function until<T>(env: Env, what: string, fn: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + env.timeoutMs;
  for (;;) {
    const got = await fn().catch(() => undefined);
    if (got !== undefined) return got;
    if (Date.now() > deadline) throw new CheckError(`timed out waiting for ${what}`);
    await sleep(1000);
  }
}

/**
 * Runs one example whose image is built: applies its target and its cpa.yaml
 * in its own namespace, checks what its README says, then deletes it all.
 */
export async function runExample(env: Env, example: Example, flavour: Flavour): Promise<Result> {
  const started = Date.now();
  const scratch = mkdtempSync(join(tmpdir(), `cpa-compat-run-${example.name}-`));
  const r = new ExampleRun(env, example, await namespacedKubeconfig(env, `compat-${example.name}`, scratch));
  const target = join(r.dir, example.target);
  let numberServer: NumberServer | undefined;
  const result = (outcome: Result["outcome"], detail: string): Result => ({
    example: example.name,
    flavour,
    outcome,
    detail,
    seconds: Math.round((Date.now() - started) / 1000),
  });
  try {
    await r.kubectl(["delete", "namespace", r.namespace, "--ignore-not-found", "--wait=true"]);
    await r.kubectl(["create", "namespace", r.namespace]);
    r.log(`kubectl apply -f ${example.target}`);
    await r.kubectl(["apply", "-f", target]);
    let cpa = join(r.dir, "cpa.yaml");
    if (example.behaviour === "http-metric") {
      numberServer = await startNumberServer(env.kubelet.nodeIP);
      const config = parse(readFileSync(join(r.dir, "config.yaml"), "utf8")) as {
        metric: { http: { url: string } };
      };
      const metric = { ...config.metric, http: { ...config.metric.http, url: numberServer.url } };
      cpa = join(scratch, "cpa.yaml");
      writeFileSync(
        cpa,
        stringify(
          withConfigEntry(
            parse(readFileSync(join(r.dir, "cpa.yaml"), "utf8")) as object,
            "metric",
            JSON.stringify(metric),
          ),
        ),
      );
    }
    r.log("kubectl apply -f cpa.yaml");
    await r.kubectl(["apply", "-f", cpa]);
    await r.journey.cpaReady(r.namespace, example.name);
    const detail = await DRIVES[example.behaviour](env, r, numberServer);
    r.log(`pass: ${detail}`);
    return result("pass", detail);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    r.log(`FAIL: ${message}`);
    return result("fail", message.split("\n")[0] ?? message);
  } finally {
    await numberServer?.close();
    delete env.metricsApi?.state.pods[r.namespace];
    // The target's manifest may name other namespaces (k8s-metrics-cpu's Service is in default).
    await r.kubectl(["delete", "-f", target, "--ignore-not-found", "--wait=false"]).catch(() => "");
    await r.kubectl(["delete", "namespace", r.namespace, "--wait=true", "--timeout=120s"]).catch(() => "");
    rmSync(scratch, { recursive: true, force: true });
  }
}
