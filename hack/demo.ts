// `npm run demo`: the getting-started guide, end to end, on a local cluster.
//
// Starts the local control plane, installs config/cluster.yaml, runs the
// operator as its Deployment's Pod (with the cpa-operator ServiceAccount's
// token), deploys hello-kubernetes and the guide's CPA, and shows the autoscaler
// scaling it 1 -> 3, then 3 -> 5 after a relabel. Pods of our images run as real
// containers (built with buildah from the Dockerfile and the guide's own, run
// with podman), or, where those tools cannot be had, as local processes
// (hack/local-pods), saying so; everything else is real Kubernetes.
// `--keep-running` leaves the operator and autoscaler running until Ctrl-C (or
// SIGTERM), to try other examples on; otherwise they stop at the end and the
// cluster stays up to look around. Run again on a cluster that stayed up, it
// first removes the guide's CPA and Deployment an earlier run left, and the
// local kubelet takes back the operator's Pod from the fake node.
import { execFile, spawnSync } from "node:child_process";
import { join } from "node:path";
import { KubeConfig, type V1Pod } from "@kubernetes/client-node";
import { buildImages } from "./image/build.ts";
import { ImageError } from "./image/errors.ts";
import { CRD_NAME, Journey, JourneyError } from "./journey.ts";
import { ensureTools } from "./image/tools.ts";
import { ContainerRunner } from "./local-pods/container-runner.ts";
import { LocalImages } from "./local-pods/images.ts";
import { LocalKubelet } from "./local-pods/kubelet.ts";
import { LOCAL_NODE_NAME } from "./local-pods/node.ts";
import { requireMountPrivilege } from "./local-pods/pod-runner.ts";
import type { PodRunner } from "./local-pods/runner.ts";
import { repoRoot, stateDir } from "./plane/config.ts";
import { PlaneError } from "./plane/errors.ts";
import { up } from "./plane/plane.ts";

const EXAMPLE = join(repoRoot, "examples", "getting-started");
const CPA = "python-custom-autoscaler";
const TARGET = "hello-kubernetes";
const NAMESPACE = "default";
const STEP_TIMEOUT_MS = 120_000;
/** Each local Pod's output, a file per Pod, beside the control plane's logs. */
const POD_LOGS = join(stateDir, "logs", "pods");

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

/**
 * What an earlier demo left on a cluster that stayed up: the guide's CPA and
 * Deployment, deleted (the CPA with its Pod) so that this run starts from 1
 * replica again.
 */
async function removeLeftovers(kubeconfig: string): Promise<void> {
  const crd = await kubectl(kubeconfig, ["get", "crd", CRD_NAME, "--ignore-not-found", "-o", "name"]);
  const get = (kind: string, name: string): Promise<string> =>
    kubectl(kubeconfig, ["get", kind, name, "-n", NAMESPACE, "--ignore-not-found", "-o", "name"]);
  const left = [crd ? await get("cpa", CPA) : "", await get("deployment", TARGET)].filter((n) => n !== "");
  if (left.length === 0) return;
  step(`Removing what an earlier demo left: ${left.join(", ")}`);
  // Foreground: the CPA is gone only once its Pod is, so the new one can take the name.
  await kubectl(kubeconfig, ["delete", ...left, "-n", NAMESPACE, "--cascade=foreground", "--wait=true"]);
}

async function journey(kubeconfig: string, kubelet: LocalKubelet): Promise<void> {
  const admin = new KubeConfig();
  admin.loadFromFile(kubeconfig);
  const j = new Journey({
    kubectl: (args) => kubectl(kubeconfig, args),
    admin,
    kubelet,
    log: out,
    timeoutMs: STEP_TIMEOUT_MS,
  });
  const onChange = (from: number, to: number): void => {
    out(`  Deployment ${TARGET}: ${from} → ${to} replicas`);
  };

  step("Installing cpa: kubectl apply -f config/cluster.yaml");
  await j.installOperator(["-f", join(repoRoot, "config", "cluster.yaml")], "cpa-system");
  out("  the operator is running (as the cpa-operator ServiceAccount) and ready");

  step("Deploying the app to scale: kubectl apply -f examples/getting-started/deployment.yaml");
  out(await kubectl(kubeconfig, ["apply", "-n", NAMESPACE, "-f", join(EXAMPLE, "deployment.yaml")]));

  step("Creating the autoscaler: kubectl apply -f examples/getting-started/cpa.yaml");
  out(
    "  (its image, python-custom-autoscaler:latest, is the guide's Dockerfile: FROM cpa-python + config.yaml, metric.py, evaluate.py)",
  );
  out(await kubectl(kubeconfig, ["apply", "-n", NAMESPACE, "-f", join(EXAMPLE, "cpa.yaml")]));
  await j.cpaReady(NAMESPACE, CPA);
  out(`  provisioned: ServiceAccount, Role, RoleBinding and Pod ${CPA}; the autoscaler runs every 10 s`);

  step(`Waiting for the autoscaler to scale ${TARGET} to its numPods label (3)`);
  await j.reachReplicas(NAMESPACE, TARGET, 3, { scaler: CPA, onChange });

  step(`Relabelling: kubectl label deployment ${TARGET} numPods=5 --overwrite`);
  await kubectl(kubeconfig, ["label", "deployment", TARGET, "-n", NAMESPACE, "numPods=5", "--overwrite"]);
  await j.reachReplicas(NAMESPACE, TARGET, 5, { scaler: CPA, onChange });

  step("kubectl get cpa");
  out(await kubectl(kubeconfig, ["get", "cpa", "-n", NAMESPACE]));

  step(`kubectl logs ${CPA}: the autoscaler's last decision, from its log`);
  const log = await kubectl(kubeconfig, ["logs", CPA, "-n", NAMESPACE, "--tail=20"]);
  const decision = log
    .trimEnd()
    .split("\n")
    .filter((l) => l.includes('"evaluation"'))
    .pop();
  if (!decision) throw new DemoError(`kubectl logs ${CPA} shows no decision; its last lines:\n${log}`);
  out(`  ${decision}`);
}

function lookAround(kubeconfig: string, keepRunning: boolean): void {
  out();
  out("Done. The cluster is still up; look around:");
  out(`  export KUBECONFIG=${kubeconfig}`);
  out("  kubectl get cpa                                   # target, replicas, ready, last scale");
  out(`  kubectl describe cpa ${CPA}      # conditions, decision trace, events`);
  out("  kubectl get pods,serviceaccounts,roles,rolebindings -o wide   # each Pod has an address of its own");
  out(`  kubectl logs -f ${CPA}           # its decisions as they happen`);
  out(`  Pods' log files: ${POD_LOGS}`);
  out();
  out("Try your own autoscaler against it without an image:");
  out(
    `  bin/cpa run --config examples/getting-started/config.yaml --target deployment/${TARGET} --once --dry-run`,
  );
  out();
  if (keepRunning)
    out('Run another example in the cluster while this runs: examples/README.md, "On the local cluster".');
  else out("Run other examples in the cluster: npm run demo -- --keep-running (examples/README.md).");
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
  await removeLeftovers(state.kubeconfig);
  const kubelet = new LocalKubelet({
    admin: kc,
    images,
    logDir: POD_LOGS,
    onLine: (pod, line) => {
      const text = describeLogLine(pod, line);
      if (text) out(text);
    },
    onEvent: (pod, message) => {
      if (message !== "started")
        if (!message.startsWith("pulling "))
          out(`  [local kubelet] ${pod.metadata?.namespace ?? ""}/${pod.metadata?.name ?? ""}: ${message}`);
    },
  });
  try {
    // Before anything that makes Pods is applied: they must land on the node that runs them.
    step(
      `Starting the local kubelet: node ${LOCAL_NODE_NAME} runs the Pods of our images as ${images.mode === "process" ? "local processes" : "real containers"}`,
    );
    await kubelet.start();
    const shared = kubelet.sharedNetwork;
    out(
      shared
        ? `  Pods share this machine's network, without addresses of their own: ${shared}`
        : `  each Pod gets an address of its own on the node's Pod network (node address ${kubelet.nodeIP}); \`kubectl logs\` reads their logs`,
    );
    await journey(state.kubeconfig, kubelet);
    lookAround(state.kubeconfig, keepRunning);
    if (keepRunning) {
      out("\nThe operator and the autoscaler keep running; Ctrl-C to stop them.");
      await new Promise<void>((resolve) => {
        process.once("SIGINT", resolve).once("SIGTERM", resolve);
      });
    }
    return 0;
  } catch (err) {
    if (err instanceof JourneyError)
      err.message += `\nThe Pods' logs are in ${POD_LOGS}, the control plane's in ${join(stateDir, "logs")}.`;
    throw err;
  } finally {
    await kubelet.stop();
  }
}

try {
  process.exitCode = await main();
} catch (err) {
  if (!(
    err instanceof DemoError ||
    err instanceof JourneyError ||
    err instanceof PlaneError ||
    err instanceof ImageError
  ))
    throw err;
  out(`\nerror: ${err.message}`);
  process.exitCode = 1;
}
