// `npm run demo`: the getting-started guide, end to end, on a local cluster.
//
// Starts the local control plane, installs config/cluster.yaml, runs the
// operator as its Deployment's Pod (with the cpa-operator ServiceAccount's
// token), deploys hello-kubernetes and the guide's CPA, and shows the autoscaler
// scaling it 1 -> 3, then 3 -> 5 after a relabel. Pods of our images run as real
// containers (built with buildah from the Dockerfile and the guide's own, run
// with podman), or, where those tools cannot be had, as local processes
// (hack/local-pods), saying so; everything else is real Kubernetes.
// `--keep-running` leaves the operator and autoscaler running until Ctrl-C;
// otherwise they stop at the end and the cluster stays up to look around.
import { execFile, spawnSync } from "node:child_process";
import { join } from "node:path";
import { CustomObjectsApi, KubeConfig, type V1Pod } from "@kubernetes/client-node";
import type { CustomPodAutoscaler } from "../src/api/custom-pod-autoscaler.ts";
import { buildImages } from "./image/build.ts";
import { ImageError } from "./image/errors.ts";
import { ensureTools } from "./image/tools.ts";
import { ContainerRunner } from "./local-pods/container-runner.ts";
import { LocalImages } from "./local-pods/images.ts";
import { LocalKubelet } from "./local-pods/kubelet.ts";
import { requireMountPrivilege } from "./local-pods/pod-runner.ts";
import type { PodRunner } from "./local-pods/runner.ts";
import { repoRoot } from "./plane/config.ts";
import { PlaneError } from "./plane/errors.ts";
import { up } from "./plane/plane.ts";

const EXAMPLE = join(repoRoot, "examples", "getting-started");
const CPA = "python-custom-autoscaler";
const TARGET = "hello-kubernetes";
const NAMESPACE = "default";
const STEP_TIMEOUT_MS = 120_000;

class DemoError extends Error {}

const out = (line = ""): void => {
  process.stdout.write(`${line}\n`);
};
const step = (text: string): void => {
  out();
  out(`▶ ${text}`);
};

const missing = (cmd: string, args: string[]): boolean => {
  const res = spawnSync(cmd, args, { stdio: "ignore" });
  return res.error !== undefined || res.status !== 0;
};

function checkPrerequisites(): void {
  if (missing("kubectl", ["version", "--client"]))
    throw new DemoError(
      "kubectl is not installed: install it (https://kubernetes.io/docs/tasks/tools/) and run again.",
    );
}

/** Running Pods as local processes needs python3 (the guide's scripts), unshare and root. */
function checkProcessModePrerequisites(): void {
  if (missing("python3", ["--version"]))
    throw new DemoError(
      "python3 is not installed: the guide's autoscaler is written in Python. Install python3 and run again.",
    );
  if (missing("unshare", ["--version"]))
    throw new DemoError(
      "unshare (util-linux) is not installed: the demo runs Pods locally with it. Install util-linux.",
    );
  try {
    requireMountPrivilege();
  } catch (err) {
    throw new DemoError(err instanceof Error ? err.message : String(err));
  }
}

function kubectl(kubeconfig: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile("kubectl", args, { env: { ...process.env, KUBECONFIG: kubeconfig } }, (err, stdout, stderr) => {
      if (err) reject(new DemoError(`kubectl ${args.join(" ")} failed: ${stderr.trim() || err.message}`));
      else resolve(stdout.trimEnd());
    });
  });
}

/** Prints what the autoscaler decided, one line per run, from its JSON log. */
function describeLogLine(pod: V1Pod, line: string): string | undefined {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  const name = pod.metadata?.name ?? "";
  const msg = typeof entry["msg"] === "string" ? entry["msg"] : "";
  if (name === CPA && "evaluation" in entry) {
    const metrics = Array.isArray(entry["metrics"]) ? (entry["metrics"] as { value?: string }[]) : [];
    const values = metrics.map((m) => m.value ?? "").join(", ");
    return `  autoscaler: metric ${values} → evaluated ${String(entry["evaluation"])} → desired ${String(entry["desired"])} (${String(entry["reason"])})`;
  }
  if (entry["level"] === "error" || entry["level"] === 50) return `  ${name}: ${msg}`;
  return undefined;
}

async function poll<T>(what: string, fn: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + STEP_TIMEOUT_MS;
  for (;;) {
    const value = await fn().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline)
      throw new DemoError(`timed out after ${STEP_TIMEOUT_MS / 1000}s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

async function journey(kubeconfig: string, kubelet: LocalKubelet): Promise<void> {
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfig);
  const custom = kc.makeApiClient(CustomObjectsApi);
  const readCpa = async (): Promise<CustomPodAutoscaler> =>
    (await custom.getNamespacedCustomObject({
      group: "custompodautoscaler.com",
      version: "v1",
      namespace: NAMESPACE,
      plural: "custompodautoscalers",
      name: CPA,
    })) as CustomPodAutoscaler;
  const replicas = async (): Promise<number> =>
    Number(
      await kubectl(kubeconfig, [
        "get",
        "deployment",
        TARGET,
        "-n",
        NAMESPACE,
        "-o",
        "jsonpath={.spec.replicas}",
      ]),
    );

  step("Installing cpa: kubectl apply -f config/cluster.yaml");
  out(await kubectl(kubeconfig, ["apply", "-f", join(repoRoot, "config", "cluster.yaml")]));
  // Local Pods share this machine's network: one operator replica (the other would fight for its port).
  await kubectl(kubeconfig, ["scale", "deployment/cpa-operator", "-n", "cpa-system", "--replicas=1"]);
  await kubectl(kubeconfig, [
    "wait",
    "--for=condition=Established",
    "crd/custompodautoscalers.custompodautoscaler.com",
  ]);
  await kubelet.start();
  await poll("the operator to be ready", async () =>
    (await fetch("http://127.0.0.1:8080/readyz")).ok ? true : undefined,
  );
  out("  the operator is running (as the cpa-operator ServiceAccount) and ready");

  step("Deploying the app to scale: kubectl apply -f examples/getting-started/deployment.yaml");
  out(await kubectl(kubeconfig, ["apply", "-n", NAMESPACE, "-f", join(EXAMPLE, "deployment.yaml")]));
  await poll("hello-kubernetes at 1 replica", async () => ((await replicas()) === 1 ? true : undefined));

  step("Creating the autoscaler: kubectl apply -f examples/getting-started/cpa.yaml");
  out(
    "  (its image, python-custom-autoscaler:latest, is the guide's Dockerfile: FROM cpa-python + config.yaml, metric.py, evaluate.py)",
  );
  out(await kubectl(kubeconfig, ["apply", "-n", NAMESPACE, "-f", join(EXAMPLE, "cpa.yaml")]));
  await poll("the CPA to be provisioned", async () => {
    const ready = (await readCpa()).status?.conditions?.find((c) => c.type === "Ready");
    return ready?.status === "True" ? true : undefined;
  });
  out(`  provisioned: ServiceAccount, Role, RoleBinding and Pod ${CPA}; the autoscaler runs every 10 s`);

  step(`Waiting for the autoscaler to scale ${TARGET} to its numPods label (3)`);
  await waitForReplicas(replicas, 3);

  step(`Relabelling: kubectl label deployment ${TARGET} numPods=5 --overwrite`);
  await kubectl(kubeconfig, ["label", "deployment", TARGET, "-n", NAMESPACE, "numPods=5", "--overwrite"]);
  await waitForReplicas(replicas, 5);

  step("kubectl get cpa");
  out(await kubectl(kubeconfig, ["get", "cpa", "-n", NAMESPACE]));
}

async function waitForReplicas(replicas: () => Promise<number>, want: number): Promise<void> {
  let last = await replicas();
  await poll(`${TARGET} at ${want} replicas`, async () => {
    const now = await replicas();
    if (now !== last) out(`  Deployment ${TARGET}: ${last} → ${now} replicas`);
    last = now;
    return now === want ? true : undefined;
  });
}

function lookAround(kubeconfig: string): void {
  out();
  out("Done. The cluster is still up; look around:");
  out(`  export KUBECONFIG=${kubeconfig}`);
  out("  kubectl get cpa                                   # target, replicas, ready, last scale");
  out(`  kubectl describe cpa ${CPA}      # conditions, decision trace, events`);
  out("  kubectl get pods,serviceaccounts,roles,rolebindings");
  out();
  out("Try your own autoscaler against it without an image:");
  out(
    `  bin/cpa run --config examples/getting-started/config.yaml --target deployment/${TARGET} --once --dry-run`,
  );
  out();
  out("Tear down: npm run cluster:down");
}

/**
 * Real containers where buildah and podman can be had (installed on first use
 * as root on Debian); local processes otherwise, saying why.
 */
async function podRunner(): Promise<PodRunner> {
  try {
    ensureTools(out);
  } catch (err) {
    if (!(err instanceof ImageError)) throw err;
    out(`  Running Pods as local processes instead of containers: ${err.message}`);
    checkProcessModePrerequisites();
    const images = new LocalImages();
    images.build(`${CPA}:latest`, EXAMPLE);
    return images;
  }
  await buildImages((line) => {
    out(`  ${line}`);
  });
  await ContainerRunner.removeLeftovers();
  const runner = new ContainerRunner();
  await runner.build(`${CPA}:latest`, EXAMPLE);
  out(`  Built ${CPA}:latest from examples/getting-started/Dockerfile (FROM cpa-python:0.1.0)`);
  return runner;
}

async function main(): Promise<number> {
  const keepRunning = process.argv.includes("--keep-running");
  checkPrerequisites();
  step(
    "Starting a local Kubernetes control plane (etcd, kube-apiserver, controller-manager, scheduler, kwok)",
  );
  const { state } = await up(out);
  const kc = new KubeConfig();
  kc.loadFromFile(state.kubeconfig);
  step("Building the images: cpa and cpa-python from the Dockerfile, then the guide's own");
  const images = await podRunner();
  const kubelet = new LocalKubelet({
    admin: kc,
    images,
    onLine: (pod, line) => {
      const text = describeLogLine(pod, line);
      if (text) out(text);
    },
    onEvent: (pod, message) => {
      if (message !== "started")
        out(`  [local kubelet] ${pod.metadata?.namespace ?? ""}/${pod.metadata?.name ?? ""}: ${message}`);
    },
  });
  try {
    await journey(state.kubeconfig, kubelet);
    lookAround(state.kubeconfig);
    if (keepRunning) {
      out("\nThe operator and the autoscaler keep running; Ctrl-C to stop them.");
      await new Promise<void>((resolve) => process.once("SIGINT", resolve));
    }
    return 0;
  } finally {
    await kubelet.stop();
  }
}

try {
  process.exitCode = await main();
} catch (err) {
  if (!(err instanceof DemoError || err instanceof PlaneError || err instanceof ImageError)) throw err;
  out(`\nerror: ${err.message}`);
  process.exitCode = 1;
}
