import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { ensureBinaries } from "./build.ts";
import {
  auditLogPath,
  FAKE_NODE_NAME,
  KUBERNETES_VERSION,
  kubePlaneBinary,
  kwokBinary,
  kwokStagesFile,
  stateDir,
} from "./config.ts";
import { PlaneError } from "./errors.ts";
import { https, waitFor, type TlsClient } from "./http.ts";
import { containersDir } from "../image/containers.ts";
import { ensureNetworkTools } from "../image/tools.ts";
import { checkOpenssl, createPki, kubeconfigYaml, kubeletLeaves, type Pki } from "./pki.ts";
import { createPodNetwork, hasPodNetwork, removePodNetwork, type PodNetworkState } from "./pod-network.ts";
import { exitOf, isOurs, startProcess, stopProcess, tail, type StartedProcess } from "./processes.ts";
import { ensureRegistryBinary, registryBinary, writeRegistryConfig, type RegistryState } from "./registry.ts";

/** What `up` leaves on disk so that later commands (down, status, tests) can find the plane. */
export interface PlaneState {
  kubernetesVersion: string;
  server: string;
  kubeconfig: string;
  processes: StartedProcess[];
  /** The local node's Pod network (pod-network.ts), or why there is none. */
  podNetwork?: PodNetworkState;
  /** The image registry on 127.0.0.1 (registry.ts), or why there is none. */
  registry?: RegistryState;
}

const stateFile = join(stateDir, "state.json");
export const kubeconfigPath = join(stateDir, "kubeconfig");

type Log = (line: string) => void;

export function readState(): PlaneState | undefined {
  if (!existsSync(stateFile)) return undefined;
  return JSON.parse(readFileSync(stateFile, "utf8")) as PlaneState;
}

export function writeState(state: PlaneState): void {
  writeFileSync(stateFile, JSON.stringify(state, null, 2) + "\n");
}

function binaryOf(p: StartedProcess): string {
  if (p.name === "registry") return registryBinary;
  return p.name === "kwok" ? kwokBinary : kubePlaneBinary;
}

/** The local kubelet's serving certificate and key, and the CA its callers' certificates must chain to. */
export function kubeletTls(): { ca: string; cert: string; key: string } {
  const dir = join(stateDir, "pki");
  return { ca: join(dir, "ca.crt"), cert: join(dir, "kubelet.crt"), key: join(dir, "kubelet.key") };
}

export function adminTls(): TlsClient {
  const dir = join(stateDir, "pki");
  return { ca: join(dir, "ca.crt"), cert: join(dir, "admin.crt"), key: join(dir, "admin.key") };
}

/** Names of recorded processes that are no longer running. */
export function deadProcesses(state: PlaneState): string[] {
  return state.processes.filter((p) => !isOurs(p.pid, binaryOf(p))).map((p) => p.name);
}

export async function isHealthy(state: PlaneState): Promise<boolean> {
  if (deadProcesses(state).length > 0) return false;
  try {
    const res = await https(`${state.server}/readyz`, adminTls());
    return res.status === 200;
  } catch {
    return false;
  }
}

/**
 * Starts the plane, or reuses the one already running. Returns whether it started
 * a new one, so callers know whether tearing down is theirs to do.
 */
export async function up(log: Log): Promise<{ started: boolean; state: PlaneState }> {
  const existing = readState();
  if (existing) {
    // A plane an earlier version started has no Pod network or registry: start a new one.
    const current = existing.podNetwork !== undefined && existing.registry !== undefined;
    if (current && (await isHealthy(existing))) {
      log(`Reusing the control plane already running at ${existing.server}`);
      return { started: false, state: existing };
    }
    const dead = deadProcesses(existing);
    const why = !current
      ? "made by an earlier version, without a Pod network and registry"
      : dead.length
        ? `${dead.join(", ")} not running`
        : "not ready";
    log(`Found a stale control plane (${why}); restarting it`);
    await down(() => undefined);
  }
  checkOpenssl();
  ensureBinaries(log);
  rmSync(stateDir, { recursive: true, force: true });
  mkdirSync(join(stateDir, "logs"), { recursive: true });
  const started = Date.now();
  const state: PlaneState = {
    kubernetesVersion: KUBERNETES_VERSION,
    server: "",
    kubeconfig: kubeconfigPath,
    processes: [],
  };
  try {
    await start(state, log);
  } catch (err) {
    await stopAll(state);
    throw err;
  }
  log(
    `Control plane ready in ${((Date.now() - started) / 1000).toFixed(1)}s (logs: ${join(stateDir, "logs")})`,
  );
  return { started: true, state };
}

async function start(state: PlaneState, log: Log): Promise<void> {
  const { etcdPort, peerPort, apiPort, cmPort, schedPort, kwokPort, registryPort } = await freePorts([
    "etcdPort",
    "peerPort",
    "apiPort",
    "cmPort",
    "schedPort",
    "kwokPort",
    "registryPort",
  ] as const);
  const server = `https://127.0.0.1:${apiPort}`;
  state.server = server;
  ensureNetworkTools(log);
  const network = createPodNetwork(apiPort, containersDir);
  state.podNetwork = network;
  writeState(state);
  if (hasPodNetwork(network))
    log(
      `Pod network ${network.cidr} on bridge ${network.bridge} (the local node's address: ${network.gateway})`,
    );
  else log(`No Pod network: ${network.unavailable}; local Pods will share the host's network`);
  const nodeIp = hasPodNetwork(network) ? network.gateway : "127.0.0.1";
  const pki = createPki(join(stateDir, "pki"), kubeletLeaves(nodeIp));
  const kubeconfigs: Record<string, string> = {};
  for (const identity of ["admin", "controller-manager", "scheduler", "kwok"]) {
    const file = identity === "admin" ? kubeconfigPath : join(stateDir, `${identity}.kubeconfig`);
    writeFileSync(file, kubeconfigYaml(server, pki, identity), { mode: 0o600 });
    kubeconfigs[identity] = file;
  }
  const launch = (name: string, binary: string, args: string[]): StartedProcess => {
    const proc = startProcess(name, binary, args, join(stateDir, "logs", `${name}.log`));
    state.processes.push(proc);
    writeState(state);
    return proc;
  };
  const died = (proc: StartedProcess) => (): string | undefined => {
    const how = exitOf(proc.name);
    return how && `${proc.name} exited (${how})`;
  };
  const ready = async (
    proc: StartedProcess,
    what: string,
    timeoutMs: number,
    check: () => Promise<boolean>,
  ) => {
    try {
      await waitFor(what, timeoutMs, async () => ((await check()) ? true : undefined), died(proc));
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      throw new PlaneError(
        `${proc.name} failed to start: ${reason}\n--- last lines of ${proc.log} ---\n${tail(proc.log)}`,
      );
    }
  };

  log(`Starting etcd on 127.0.0.1:${etcdPort}`);
  const etcd = launch("etcd", kubePlaneBinary, ["etcd", ...etcdArgs(etcdPort, peerPort)]);
  await ready(etcd, "etcd /health", 30_000, async () => {
    const res = await fetch(`http://127.0.0.1:${etcdPort}/health`);
    return res.ok;
  });

  const auditPolicy = join(stateDir, "audit-policy.yaml");
  writeFileSync(auditPolicy, AUDIT_POLICY);
  log(`Starting kube-apiserver ${KUBERNETES_VERSION} on ${server}`);
  const apiserver = launch("kube-apiserver", kubePlaneBinary, [
    "kube-apiserver",
    ...apiserverArgs(pki, etcdPort, apiPort, auditPolicy),
  ]);
  await ready(apiserver, "kube-apiserver /readyz", 120_000, async () => {
    const res = await https(`${server}/readyz`, adminTls());
    if (res.status !== 200) throw new Error(`/readyz answered ${res.status}`);
    return true;
  });
  // As kubeadm binds it: the apiserver may call the kubelet API (logs, exec) of every node.
  const binding = await https(
    `${server}/apis/rbac.authorization.k8s.io/v1/clusterrolebindings`,
    adminTls(),
    "POST",
    KUBELET_CLIENT_BINDING,
  );
  if (binding.status !== 201)
    throw new PlaneError(`binding the apiserver's kubelet client failed: ${binding.status} ${binding.body}`);
  state.registry = await startRegistry(registryPort, launch, log);
  writeState(state);

  log("Starting kube-controller-manager, kube-scheduler and kwok");
  const cm = launch("kube-controller-manager", kubePlaneBinary, [
    "kube-controller-manager",
    ...controllerManagerArgs(pki, kubeconfigs["controller-manager"] ?? "", cmPort),
  ]);
  const sched = launch("kube-scheduler", kubePlaneBinary, [
    "kube-scheduler",
    ...schedulerArgs(kubeconfigs["scheduler"] ?? "", schedPort),
  ]);
  const podsReadyAgain = join(stateDir, "kwok-stage-pod-ready-again.yaml");
  writeFileSync(podsReadyAgain, POD_READY_AGAIN_STAGE);
  const kwok = launch("kwok", kwokBinary, kwokArgs(kubeconfigs["kwok"] ?? "", kwokPort, podsReadyAgain));
  const healthz = (port: number) => async () =>
    (await https(`https://127.0.0.1:${port}/healthz`, {})).status === 200;
  await ready(cm, "kube-controller-manager /healthz", 60_000, healthz(cmPort));
  await ready(sched, "kube-scheduler /healthz", 60_000, healthz(schedPort));

  const created = await https(`${server}/api/v1/nodes`, adminTls(), "POST", fakeNode());
  if (created.status !== 201)
    throw new PlaneError(`creating the fake node failed: ${created.status} ${created.body}`);
  await ready(kwok, `node ${FAKE_NODE_NAME} to be Ready and untainted`, 60_000, async () => {
    const res = await https(`${server}/api/v1/nodes/${FAKE_NODE_NAME}`, adminTls());
    const node = JSON.parse(res.body) as {
      spec?: { taints?: unknown[] };
      status?: { conditions?: { type: string; status: string }[] };
    };
    const isReady = node.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") === true;
    return isReady && (node.spec?.taints ?? []).length === 0;
  });
  // Pods in the default namespace need its ServiceAccount, made by the controller-manager.
  await ready(cm, "the default ServiceAccount", 60_000, async () => {
    return (
      (await https(`${server}/api/v1/namespaces/default/serviceaccounts/default`, adminTls())).status === 200
    );
  });
}

/** Stops exactly the processes `up` recorded (by pid) and removes the plane's state. */
export async function down(log: Log): Promise<void> {
  const state = readState();
  if (!state) {
    log("No control plane is running here; nothing to stop.");
    rmSync(stateDir, { recursive: true, force: true });
    return;
  }
  await stopAll(state);
  rmSync(stateDir, { recursive: true, force: true });
  log(`Stopped ${state.processes.map((p) => p.name).join(", ")} and removed ${stateDir}`);
}

async function stopAll(state: PlaneState): Promise<void> {
  // Reverse start order: clients first, etcd last.
  for (const p of [...state.processes].reverse()) await stopProcess(p.pid, binaryOf(p));
  if (hasPodNetwork(state.podNetwork)) removePodNetwork(state.podNetwork, containersDir);
}

const KUBELET_CLIENT_BINDING = {
  apiVersion: "rbac.authorization.k8s.io/v1",
  kind: "ClusterRoleBinding",
  metadata: { name: "cpa-plane:apiserver-kubelet-client" },
  roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "system:kubelet-api-admin" },
  subjects: [{ apiGroup: "rbac.authorization.k8s.io", kind: "User", name: "kube-apiserver-kubelet-client" }],
};

/** Starts the image registry on 127.0.0.1; a plane without one says why and runs on. */
async function startRegistry(
  port: number,
  launch: (name: string, binary: string, args: string[]) => StartedProcess,
  log: Log,
): Promise<RegistryState> {
  const missing = ensureRegistryBinary(log);
  if (missing) {
    log(`No image registry: ${missing.unavailable}`);
    return missing;
  }
  const address = `127.0.0.1:${port}`;
  const proc = launch("registry", registryBinary, [
    "serve",
    writeRegistryConfig(join(stateDir, "registry"), port),
  ]);
  try {
    await waitFor(
      "the registry's /v2/",
      30_000,
      async () => {
        const res = await fetch(`http://${address}/v2/`);
        return res.ok ? true : undefined;
      },
      () => {
        const how = exitOf(proc.name);
        return how && `registry exited (${how})`;
      },
    );
  } catch (err) {
    throw new PlaneError(
      `the image registry failed to start: ${err instanceof Error ? err.message : String(err)}\n--- last lines of ${proc.log} ---\n${tail(proc.log)}`,
    );
  }
  log(`Image registry on ${address} (push with: podman push --tls-verify=false IMAGE ${address}/NAME:TAG)`);
  return { address };
}

/** Free loopback ports, one per name. */
async function freePorts<K extends string>(names: readonly K[]): Promise<Record<K, number>> {
  // Hold all listeners open at once so the kernel hands out distinct ports.
  const servers = names.map(() => createServer());
  try {
    const ports = await Promise.all(
      servers.map(
        (s) =>
          new Promise<number>((resolve, reject) => {
            s.once("error", reject);
            s.listen(0, "127.0.0.1", () => {
              const addr = s.address();
              resolve(typeof addr === "object" && addr ? addr.port : 0);
            });
          }),
      ),
    );
    return Object.fromEntries(names.map((n, i) => [n, ports[i]])) as Record<K, number>;
  } finally {
    for (const s of servers) s.close();
  }
}

function etcdArgs(clientPort: number, peerPort: number): string[] {
  const client = `http://127.0.0.1:${clientPort}`;
  const peer = `http://127.0.0.1:${peerPort}`;
  return [
    "--name=cpa",
    `--data-dir=${join(stateDir, "etcd")}`,
    `--listen-client-urls=${client}`,
    `--advertise-client-urls=${client}`,
    `--listen-peer-urls=${peer}`,
    `--initial-advertise-peer-urls=${peer}`,
    `--initial-cluster=cpa=${peer}`,
    // A throwaway test store: durability is not worth the fsync latency.
    "--unsafe-no-fsync=true",
    "--log-level=warn",
  ];
}

/**
 * Metadata of every request by a ServiceAccount outside kube-system (the
 * controller-manager's controllers would be most of it), once it has
 * completed; nothing else.
 */
const AUDIT_POLICY = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
  - level: None
    userGroups: ["system:serviceaccounts:kube-system"]
  - level: Metadata
    userGroups: ["system:serviceaccounts"]
  - level: None
`;

function apiserverArgs(pki: Pki, etcdPort: number, port: number, auditPolicy: string): string[] {
  const serving = pki.cert("apiserver");
  const proxy = pki.cert("front-proxy-client");
  const kubeletClient = pki.cert("apiserver-kubelet-client");
  return [
    `--etcd-servers=http://127.0.0.1:${etcdPort}`,
    "--bind-address=127.0.0.1",
    `--secure-port=${port}`,
    "--advertise-address=127.0.0.1",
    // The `kubernetes` Service's Endpoints may not hold a loopback address; nothing here needs them.
    "--endpoint-reconciler-type=none",
    `--tls-cert-file=${serving.cert}`,
    `--tls-private-key-file=${serving.key}`,
    `--client-ca-file=${pki.caCert}`,
    // How it calls kubelets (logs): with its own client certificate, checking theirs against the CA.
    `--kubelet-client-certificate=${kubeletClient.cert}`,
    `--kubelet-client-key=${kubeletClient.key}`,
    `--kubelet-certificate-authority=${pki.caCert}`,
    "--kubelet-preferred-address-types=InternalIP",
    "--authorization-mode=Node,RBAC",
    "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
    `--service-account-key-file=${pki.serviceAccountPub}`,
    `--service-account-signing-key-file=${pki.serviceAccountKey}`,
    "--service-cluster-ip-range=10.96.0.0/16",
    "--allow-privileged=true",
    // On in OpenShift: creating an object whose owner reference blocks the owner's
    // deletion needs `update` on the owner's finalizers. Every provisioning test proves it.
    "--enable-admission-plugins=OwnerReferencesPermissionEnforcement",
    `--audit-policy-file=${auditPolicy}`,
    `--audit-log-path=${auditLogPath}`,
    "--audit-log-format=json",
    // The aggregation layer, so extension API servers (metrics APIs) can be registered.
    `--requestheader-client-ca-file=${pki.frontProxyCaCert}`,
    "--requestheader-allowed-names=front-proxy-client",
    "--requestheader-username-headers=X-Remote-User",
    "--requestheader-group-headers=X-Remote-Group",
    "--requestheader-extra-headers-prefix=X-Remote-Extra-",
    `--proxy-client-cert-file=${proxy.cert}`,
    `--proxy-client-key-file=${proxy.key}`,
    "--enable-aggregator-routing=true",
    "--profiling=false",
  ];
}

function controllerManagerArgs(pki: Pki, kubeconfig: string, port: number): string[] {
  return [
    `--kubeconfig=${kubeconfig}`,
    `--authentication-kubeconfig=${kubeconfig}`,
    `--authorization-kubeconfig=${kubeconfig}`,
    "--bind-address=127.0.0.1",
    `--secure-port=${port}`,
    "--leader-elect=false",
    // Each controller's client may send 100 requests a second (20 by default): the
    // benchmark's thousands of Deployments and namespace deletions would otherwise
    // wait on the controllers' own rate limits, not on the operators measured.
    "--kube-api-qps=100",
    "--kube-api-burst=200",
    // Each controller acts with its own ServiceAccount, as in a real cluster.
    "--use-service-account-credentials=true",
    `--service-account-private-key-file=${pki.serviceAccountKey}`,
    `--root-ca-file=${pki.caCert}`,
    `--controllers=${[
      "garbage-collector-controller",
      "namespace-controller",
      "serviceaccount-controller",
      "serviceaccount-token-controller",
      "root-ca-certificate-publisher-controller",
      "clusterrole-aggregation-controller",
      "deployment-controller",
      "replicaset-controller",
      "statefulset-controller",
      "replicationcontroller-controller",
      "pod-garbage-collector-controller",
      // Lifts the not-ready taint the apiserver puts on every new Node once kwok reports it Ready.
      "node-lifecycle-controller",
    ].join(",")}`,
  ];
}

function schedulerArgs(kubeconfig: string, port: number): string[] {
  return [
    `--kubeconfig=${kubeconfig}`,
    `--authentication-kubeconfig=${kubeconfig}`,
    `--authorization-kubeconfig=${kubeconfig}`,
    "--bind-address=127.0.0.1",
    `--secure-port=${port}`,
    "--leader-elect=false",
  ];
}

/**
 * What a kubelet does and kwok's default stages do not: when the node
 * lifecycle controller has marked a running Pod not Ready (its node's
 * heartbeat lapsed, as in a long apiserver outage), the kubelet's status
 * manager writes Ready back once it reaches the apiserver again, since the
 * containers never stopped. kwok's own pod-ready stage matches Pending Pods
 * only, so without this those Pods stay not Ready for good. The delay keeps
 * it from racing the controller while the node is still NotReady (the
 * controller marks again on every Pod update then).
 */
const POD_READY_AGAIN_STAGE = `apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: cpa-pod-ready-again
spec:
  resourceRef:
    apiGroup: v1
    kind: Pod
  selector:
    matchExpressions:
      - key: '.metadata.deletionTimestamp'
        operator: 'DoesNotExist'
      - key: '.status.phase'
        operator: 'In'
        values: ['Running']
      - key: '.status.conditions.[] | select( .type == "Ready" ) | .status'
        operator: 'In'
        values: ['False']
  delay:
    durationMilliseconds: 2000
  next:
    statusTemplate: |
      conditions:
      - lastTransitionTime: {{ Now | Quote }}
        status: "True"
        type: Ready
`;

function kwokArgs(kubeconfig: string, port: number, extraStages: string): string[] {
  return [
    `--kubeconfig=${kubeconfig}`,
    `--config=${kwokStagesFile}`,
    `--config=${extraStages}`,
    "--manage-all-nodes=false",
    "--manage-nodes-with-label-selector=type=kwok",
    "--node-lease-duration-seconds=40",
    // The fake Pods' addresses; the local node's Pod network has 10.244.128.0/17 (pod-network.ts).
    "--cidr=10.244.0.0/17",
    "--node-ip=10.0.0.10",
    `--server-address=127.0.0.1:${port}`,
  ];
}

/** One untainted fake node, large enough for every test and benchmark workload. */
function fakeNode(): object {
  // Room for the benchmark at 5,000 CPAs (one autoscaler Pod each) beside everything else.
  const resources = { cpu: "1000", memory: "4Ti", pods: "20000" };
  return {
    apiVersion: "v1",
    kind: "Node",
    metadata: {
      name: FAKE_NODE_NAME,
      labels: {
        type: "kwok",
        "kubernetes.io/hostname": FAKE_NODE_NAME,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
      },
      annotations: { "kwok.x-k8s.io/node": "fake" },
    },
    status: { allocatable: resources, capacity: resources },
  };
}

/**
 * The cluster to work against: the one $KUBECONFIG names, else the local plane,
 * started here or reused. `release` stops the plane only if this call started
 * it (and CPA_KEEP_CLUSTER is not 1).
 */
export async function useCluster(log: Log): Promise<{ kubeconfig: string; release: () => Promise<void> }> {
  const named = process.env["KUBECONFIG"];
  if (named) {
    log(`Using the cluster KUBECONFIG names: ${named}`);
    return { kubeconfig: named, release: () => Promise.resolve() };
  }
  const { started, state } = await up(log);
  const own = started && process.env["CPA_KEEP_CLUSTER"] !== "1";
  return {
    kubeconfig: state.kubeconfig,
    release: async () => {
      if (own) await down(log);
      else log(`Left the control plane running: export KUBECONFIG=${state.kubeconfig}`);
    },
  };
}
