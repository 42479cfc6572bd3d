// A stand-in kubelet for the demo and the end-to-end tests: the kubelet of a
// node of its own (node.ts), where, while it runs, every new Pod lands.
//
// - Which Pods it runs: those whose image (by its full name, image-ref.ts) is
//   in the node's image store (ours, user images built with `npm run image`,
//   anything pulled), or names the plane's registry (hack/plane/registry.ts)
//   as its own. It runs their first container as a real container (or a
//   local process, runner.ts). A Pod of any other image (say, a Deployment the
//   tests only need scheduled) runs nothing and is reported running, as kwok
//   reports it.
// - Images: `imagePullPolicy` as a kubelet reads it: Never uses the store only
//   (ErrImageNeverPull), IfNotPresent pulls when absent, Always pulls before
//   every start; a failed pull is ErrImagePull, then ImagePullBackOff with
//   back-off. It pulls from the plane's registry only, which also stands in
//   for docker.io (a mirror, as kind's local-registry set-up has it): nothing
//   leaves the machine, so `image: x:latest` (Always) of an image built only
//   into the store fails as it would on a real node after `kind load`, and
//   works once pushed to the registry as library/x:latest.
// - Networks: with the plane's Pod network (hack/plane/pod-network.ts) each Pod
//   has its own network namespace and address (status.podIP); hostNetwork Pods,
//   and every Pod run as a local process, share the host's.
// - Restarts with back-off as restartPolicy Always does; stops the containers
//   when the Pod is deleted; reports what truly happens (running, waiting with
//   a reason, terminated with its exit code, restart count, last termination),
//   and writes the events a kubelet writes for pulls and starts.
// - Logs: each container instance's output in the kubelet's layout (logs.ts),
//   served on the node's address by the kubelet API (kubelet-api.ts), so
//   `kubectl logs` (with -f, --previous, --tail, --since) works.
//
// At start it takes back what an earlier run left on the kwok node: a Pod of an
// image it runs, made by a controller (a ReplicaSet, the operator) and bound to
// the kwok node, which only pretends to run it, is deleted so that its
// controller makes it again, here.
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { KubeConfig, V1Pod } from "@kubernetes/client-node";
import { KubeHttp } from "../../src/kube/http.ts";
import { FAKE_NODE_NAME } from "../plane/config.ts";
import { kubeletTls, readState, type PlaneState } from "../plane/plane.ts";
import { containersDir } from "../image/containers.ts";
import {
  hasPodNetwork,
  KUBELET_PORT,
  podAddresses,
  reservedAddressesDir,
  type PodNetwork,
} from "../plane/pod-network.ts";
import { hasRegistry } from "../plane/registry.ts";
import {
  defaultPullPolicy,
  fullImageName,
  imageStep,
  pullBackOff,
  pullSource,
  registryOf,
  type PullPolicy,
} from "./image-ref.ts";
import { KubeletApi, type LogLookup } from "./kubelet-api.ts";
import { LogStore, type InstanceLog } from "./logs.ts";
import { LOCAL_NODE_NAME, LocalNode } from "./node.ts";
import type { LocalProcess, RunOptions } from "./pod-runner.ts";
import {
  backOffMessage,
  podStatus,
  simulatedStatus,
  type ContainerRun,
  type PodAddresses,
  type Termination,
} from "./pod-status.ts";
import type { PodRunner } from "./runner.ts";

interface Tracked {
  pod: V1Pod;
  /** Runs nothing: its image is not one we run. */
  simulated: boolean;
  /** The first container's image, by its full name. */
  image: string;
  addresses: PodAddresses;
  run: ContainerRun;
  proc: LocalProcess | undefined;
  log: InstanceLog | undefined;
  startedAt: string;
  /** Do not start (or pull) again before this time (ms): back-off. */
  notBefore: number;
  /** A pull is under way. */
  pulling: boolean;
  /** The image was pulled for the next start (Always pulls before every start). */
  pulled: boolean;
  pullFailures: number;
  pullError: string;
  /** The status last written, to write only changes. */
  written: string;
  /** The last event written, to write a repeated one once. */
  lastEvent: string;
  stopping: boolean;
}

export interface KubeletOptions {
  admin: KubeConfig;
  /** The images it can run, and how: local processes (LocalImages) or containers (ContainerRunner). */
  images: PodRunner;
  /** Each line a Pod's process prints. */
  onLine?: (pod: V1Pod, line: string) => void;
  /** What the kubelet does: started, exited, stopped, pulled. */
  onEvent?: (pod: V1Pod, message: string) => void;
  /** Where container logs are kept (kept after stop); a temporary folder otherwise (removed at stop). */
  logDir?: string;
  /** The local plane: its Pod network, registry and certificates. Read from its state by default. */
  plane?: PlaneState | undefined;
  pollMs?: number;
}

const podName = (pod: V1Pod): string => `${pod.metadata?.namespace ?? ""}/${pod.metadata?.name ?? ""}`;
const podPath = (pod: V1Pod): string =>
  `/api/v1/namespaces/${pod.metadata?.namespace ?? ""}/pods/${pod.metadata?.name ?? ""}`;
/** Back-off before restart (or pull) n (1-based): the kubelet's doubling, capped low for local use. */
const backOffMs = (n: number): number => Math.min(1000 * 2 ** (n - 1), 10_000);

/** The plane this kubeconfig talks to, if it is the local one. */
function localPlane(admin: KubeConfig): PlaneState | undefined {
  const state = readState();
  return state && state.server === admin.getCurrentCluster()?.server ? state : undefined;
}

export class LocalKubelet {
  readonly #opts: KubeletOptions;
  readonly #http: KubeHttp;
  readonly #node: LocalNode;
  readonly #tracked = new Map<string, Tracked>();
  readonly #logs: LogStore;
  readonly #ownLogDir: boolean;
  readonly #network: PodNetwork | undefined;
  readonly #registry: string | undefined;
  readonly #plane: PlaneState | undefined;
  readonly #free: string[];
  readonly #reservedDir: string;
  /** Pods being stopped in the background. */
  readonly #stops = new Set<Promise<void>>();
  #api: KubeletApi | undefined;
  #timer: NodeJS.Timeout | undefined;
  #stopping = false;
  #syncing: Promise<void> = Promise.resolve();
  #registered: Promise<void> = Promise.resolve();

  constructor(opts: KubeletOptions) {
    this.#opts = opts;
    this.#http = new KubeHttp(opts.admin);
    this.#node = new LocalNode(opts.admin);
    this.#ownLogDir = opts.logDir === undefined;
    this.#logs = new LogStore(opts.logDir ?? mkdtempSync(join(tmpdir(), "cpa-kubelet-logs-")));
    this.#plane = "plane" in opts ? opts.plane : localPlane(opts.admin);
    const net = this.#plane?.podNetwork;
    this.#network = hasPodNetwork(net) && opts.images.ownNetwork ? net : undefined;
    this.#registry = hasRegistry(this.#plane?.registry) ? this.#plane.registry.address : undefined;
    this.#free = this.#network ? podAddresses(this.#network) : [];
    this.#reservedDir = this.#network ? reservedAddressesDir(this.#network, containersDir) : "";
  }

  /** The node's address: the Pod network's gateway, or loopback without one. */
  get nodeIP(): string {
    return this.#network?.gateway ?? "127.0.0.1";
  }

  /** The plane's registry (host:port) this node pulls from, if it has one. */
  get registry(): string | undefined {
    return this.#registry;
  }

  /** Why Pods share the host's network, or undefined when they get their own. */
  get sharedNetwork(): string | undefined {
    if (this.#network) return undefined;
    if (!this.#opts.images.ownNetwork)
      return "Pods run as local processes, which cannot have network namespaces of their own";
    const net = this.#plane?.podNetwork;
    if (net && "unavailable" in net) return net.unavailable;
    return "the cluster is not the local plane, which has the Pod network";
  }

  /**
   * Starts the kubelet API, registers the node, takes back the Pods an earlier
   * run left on the kwok node, and starts syncing; resolves once the node is registered.
   */
  start(): Promise<void> {
    this.#registered = this.#startApi()
      .then((port) =>
        this.#node.register({ ip: this.nodeIP, kubeletPort: port, podCIDR: this.#network?.cidr }),
      )
      .then(() => this.#reclaim());
    const tick = (): void => {
      this.#syncing = this.#registered
        .then(() => this.#sync())
        .catch((err: unknown) => {
          this.#opts.onEvent?.({}, `sync failed: ${err instanceof Error ? err.message : String(err)}`);
        })
        .finally(() => {
          if (!this.#stopping) this.#timer = setTimeout(tick, this.#opts.pollMs ?? 500);
        });
    };
    tick();
    return this.#registered;
  }

  /** The kubelet API on the node's address; the port it listens on. */
  async #startApi(): Promise<number> {
    if (!this.#plane) return 0;
    const port = this.#network ? KUBELET_PORT : 0;
    this.#api = new KubeletApi({
      host: this.nodeIP,
      port,
      tls: kubeletTls(),
      nodeName: LOCAL_NODE_NAME,
      http: this.#http,
      find: (ns, pod, container, previous) => this.#findLog(ns, pod, container, previous),
    });
    return this.#api.listen();
  }

  /** The processes running now, by namespace/name. */
  running(): string[] {
    return [...this.#tracked.values()].filter((t) => t.proc).map((t) => podName(t.pod));
  }

  #byName(namespace: string, name: string): Tracked | undefined {
    return [...this.#tracked.values()].find(
      (x) => x.pod.metadata?.namespace === namespace && x.pod.metadata.name === name,
    );
  }

  /** The log file of a Pod's latest container instance. */
  logFile(namespace: string, name: string): string | undefined {
    return this.#byName(namespace, name)?.log?.file;
  }

  /** Output of the running (or last) process of a Pod. */
  output(namespace: string, name: string): string {
    return this.#byName(namespace, name)?.proc?.output() ?? "";
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    clearTimeout(this.#timer);
    await this.#syncing;
    await Promise.all(
      [...this.#tracked.values()].map(async (t) => {
        t.stopping = true;
        await this.#stopProcess(t);
      }),
    );
    await Promise.allSettled([...this.#stops]);
    this.#tracked.clear();
    await this.#api?.close();
    await this.#registered.catch(() => undefined);
    await this.#node.unregister();
    if (this.#ownLogDir) rmSync(this.#logs.root, { recursive: true, force: true });
  }

  #findLog(namespace: string, name: string, container: string, previous: boolean): LogLookup {
    const t = this.#byName(namespace, name);
    if (!t) return { status: 404, message: `pod ${namespace}/${name} is not on node ${LOCAL_NODE_NAME}` };
    const first = t.pod.spec?.containers[0]?.name;
    if (t.simulated || container !== first)
      return {
        status: 400,
        message:
          `container "${container}" in pod "${name}" runs nothing here: the local kubelet runs the first ` +
          "container of Pods whose image is in the node's store or the plane's registry, and simulates the rest (hack/local-pods/kubelet.ts)",
      };
    // As the kubelet picks: --previous is the last terminated instance (the one before the running
    // one, or the one that just ended while the next waits); without it, the running or latest one.
    const all = this.#logs.instances(t.pod.metadata?.uid ?? "", container);
    const log = all[all.length - (previous && t.proc ? 2 : 1)];
    if (log && (!previous || log.ended)) return { log };
    if (previous)
      return {
        status: 400,
        message: `previous terminated container "${container}" in pod "${name}" not found`,
      };
    const reason = t.run.state === "waiting" ? t.run.reason : "ContainerCreating";
    return {
      status: 400,
      message: `container "${container}" in pod "${name}" is waiting to start: ${reason}`,
    };
  }

  /** Deletes the controller-made Pods of images this kubelet runs that are bound to the kwok node. */
  async #reclaim(): Promise<void> {
    const list = await this.#http.request<{ items: V1Pod[] }>("GET", "/api/v1/pods", {
      query: { fieldSelector: `spec.nodeName=${FAKE_NODE_NAME}` },
    });
    // One look in the image store per image, however many Pods share it.
    const runs = new Map<string, Promise<boolean>>();
    const runnable = (image: string | undefined): Promise<boolean> => {
      const key = image ?? "";
      let known = runs.get(key);
      if (!known) runs.set(key, (known = this.#runs(image)));
      return known;
    };
    for (const pod of list.items) {
      const controlled = pod.metadata?.ownerReferences?.some((o) => o.controller === true) === true;
      if (!controlled || pod.metadata?.deletionTimestamp) continue;
      if (!(await runnable(pod.spec?.containers[0]?.image))) continue;
      this.#opts.onEvent?.(
        pod,
        `on ${FAKE_NODE_NAME}, where nothing runs it: deleted for its controller to make it again here`,
      );
      await this.#http
        .request("DELETE", podPath(pod), {
          body: {
            kind: "DeleteOptions",
            apiVersion: "v1",
            gracePeriodSeconds: 0,
            preconditions: { uid: pod.metadata?.uid },
          },
        })
        .catch(() => undefined);
    }
  }

  /** Whether this node runs Pods of this image: in its store, or served by the plane's registry. */
  async #runs(image: string | undefined): Promise<boolean> {
    if (image === undefined) return false;
    if (this.#registry !== undefined && registryOf(image) === this.#registry && this.#opts.images.pulls)
      return true;
    return this.#opts.images.has(image);
  }

  async #sync(): Promise<void> {
    const list = await this.#http.request<{ items: V1Pod[] }>("GET", "/api/v1/pods", {
      query: { fieldSelector: `spec.nodeName=${LOCAL_NODE_NAME}` },
    });
    const live = new Map(list.items.map((p) => [p.metadata?.uid ?? "", p]));
    for (const [uid, t] of this.#tracked) {
      if (live.has(uid)) continue;
      this.#tracked.delete(uid);
      t.stopping = true;
      if (t.proc) this.#opts.onEvent?.(t.pod, "Pod deleted: stopping its process");
      // Stopping takes up to the grace period: in the background, so other Pods are not held up.
      this.#background(
        this.#stopProcess(t).finally(() => {
          this.#logs.forget(uid);
        }),
      );
    }
    for (const pod of list.items) {
      if (this.#stopping) return;
      const t = await this.#track(pod);
      if (pod.metadata?.deletionTimestamp) this.#background(this.#terminate(t));
      else await this.#step(t);
    }
  }

  /** Work that outlives a sync (stopping Pods), which stop() waits for. */
  #background(work: Promise<void>): void {
    const tracked = work.catch(() => undefined).finally(() => this.#stops.delete(tracked));
    this.#stops.add(tracked);
  }

  /** Stops a Pod's process; its address goes back to the pool only once nothing holds it. */
  async #stopProcess(t: Tracked): Promise<void> {
    try {
      await t.proc?.stop();
    } finally {
      t.log?.end();
      this.#release(t);
    }
  }

  /** A Pod's addresses: its own on the Pod network, the node's with hostNetwork or without one. */
  #address(pod: V1Pod): PodAddresses {
    const node = this.nodeIP;
    if (!this.#network || pod.spec?.hostNetwork === true) return { hostIP: node, podIP: node };
    // Not one host-local still records as handed out (a container a killed run left, say).
    const reserved = new Set(existsSync(this.#reservedDir) ? readdirSync(this.#reservedDir) : []);
    const at = this.#free.findIndex((ip) => !reserved.has(ip));
    const [ip] = at < 0 ? [] : this.#free.splice(at, 1);
    return { hostIP: node, podIP: ip ?? node };
  }

  #release(t: Tracked): void {
    const ip = t.addresses.podIP;
    if (this.#network && ip !== this.nodeIP && !this.#free.includes(ip)) this.#free.push(ip);
  }

  async #track(pod: V1Pod): Promise<Tracked> {
    const uid = pod.metadata?.uid ?? "";
    const known = this.#tracked.get(uid);
    if (known) {
      known.pod = pod;
      return known;
    }
    const image = pod.spec?.containers[0]?.image;
    const t: Tracked = {
      pod,
      simulated: !(await this.#runs(image)),
      image: fullImageName(image ?? ""),
      addresses: this.#address(pod),
      run: { state: "creating", restarts: 0 },
      proc: undefined,
      log: undefined,
      startedAt: new Date().toISOString(),
      notBefore: 0,
      pulling: false,
      pulled: false,
      pullFailures: 0,
      pullError: "",
      written: "",
      lastEvent: "",
      stopping: false,
    };
    this.#tracked.set(uid, t);
    return t;
  }

  /** Pulls or starts what is due, and reports the Pod's status if it changed. */
  async #step(t: Tracked): Promise<void> {
    const due = !t.simulated && !t.proc && !t.pulling && t.run.state !== "terminated";
    if (due && Date.now() < t.notBefore) this.#backingOff(t);
    else if (due && (await this.#imageReady(t))) await this.#launch(t);
    await this.#report(t);
  }

  /** After a failed pull, the next look says ImagePullBackOff, as the kubelet's does. */
  #backingOff(t: Tracked): void {
    if (t.run.state !== "waiting" || t.run.reason !== "ErrImagePull") return;
    const image = t.pod.spec?.containers[0]?.image ?? "";
    const { reason, message } = pullBackOff(image, t.pullError);
    t.run = { ...t.run, reason, message };
    this.#event(t, "Warning", "BackOff", `Back-off pulling image "${image}"`);
  }

  /** Whether the image is there to start from; if not, the pull it started or why it cannot. */
  async #imageReady(t: Tracked): Promise<boolean> {
    if (t.pulled) return true;
    const container = t.pod.spec?.containers[0];
    const image = container?.image ?? "";
    const policy = (container?.imagePullPolicy as PullPolicy | undefined) ?? defaultPullPolicy(image);
    const step = imageStep(image, policy, await this.#opts.images.has(image));
    if (step.kind === "use") return true;
    if (step.kind === "never") {
      t.run = {
        state: "waiting",
        reason: "ErrImageNeverPull",
        message: step.message,
        restarts: t.run.restarts,
        last: t.run.last,
      };
      t.notBefore = Date.now() + 2000;
      this.#event(t, "Warning", "ErrImageNeverPull", step.message);
      return false;
    }
    this.#pull(t, image);
    return false;
  }

  /** Pulls in the background; the next look starts the container, or backs off. */
  #pull(t: Tracked, image: string): void {
    t.pulling = true;
    const started = Date.now();
    this.#event(t, "Normal", "Pulling", `Pulling image "${image}"`);
    this.#opts.onEvent?.(t.pod, `pulling ${t.image}`);
    const registry = registryOf(t.image);
    const source = pullSource(t.image, this.#registry);
    const fix =
      "build the image into the node's store (npm run image) and set imagePullPolicy: IfNotPresent, or push it to that registry";
    const pulled =
      source === undefined
        ? Promise.reject(
            new Error(
              `this node pulls only from the local plane's registry (${this.#registry ?? "none is running"}), and ${registry} is not it: ${fix}`,
            ),
          )
        : this.#opts.images.pull(t.image, source).catch((err: unknown) => {
            if (source === t.image) throw err;
            const why = err instanceof Error ? err.message : String(err);
            throw new Error(
              `docker.io is mirrored here by the local plane's registry, which has no ${source.slice((this.#registry ?? "").length + 1)} (${why}): ${fix}`,
            );
          });
    void pulled.then(
      () => {
        t.pulling = false;
        t.pulled = true;
        t.pullFailures = 0;
        const seconds = ((Date.now() - started) / 1000).toFixed(3);
        this.#event(t, "Normal", "Pulled", `Successfully pulled image "${image}" in ${seconds}s`);
      },
      (err: unknown) => {
        t.pulling = false;
        t.pullFailures++;
        t.pullError = `failed to pull image "${image}": ${err instanceof Error ? err.message : String(err)}`;
        t.notBefore = Date.now() + backOffMs(t.pullFailures);
        t.run = {
          state: "waiting",
          reason: "ErrImagePull",
          message: t.pullError,
          restarts: t.run.restarts,
          last: t.run.last,
        };
        this.#event(t, "Warning", "Failed", `Failed to pull image "${image}": ${t.pullError}`);
        this.#opts.onEvent?.(t.pod, `could not pull ${t.image}: ${t.pullError}`);
        void this.#report(t).catch(() => undefined);
      },
    );
  }

  async #launch(t: Tracked): Promise<void> {
    const { pod } = t;
    t.pulled = false;
    const uid = pod.metadata?.uid ?? "";
    const name = pod.spec?.containers[0]?.name ?? "";
    const log = this.#logs.start(
      pod.metadata?.namespace ?? "",
      pod.metadata?.name ?? "",
      uid,
      name,
      t.run.restarts,
    );
    try {
      const proc = await this.#opts.images.run(pod, this.#opts.admin, this.#runOptions(t, log));
      const startedAt = new Date().toISOString();
      t.proc = proc;
      t.log = log;
      t.run = { state: "running", startedAt, restarts: t.run.restarts, last: t.run.last };
      this.#event(t, "Normal", "Started", `Started container ${name}`);
      this.#opts.onEvent?.(pod, t.run.restarts === 0 ? "started" : `restarted (${t.run.restarts})`);
      void proc.exited.then((code) => {
        log.end();
        this.#exited(t, proc, code ?? 137, startedAt);
      });
    } catch (err) {
      log.end();
      // No container ran: no instance to show (the next attempt writes this restart's log anew).
      this.#logs.drop(log);
      const message = err instanceof Error ? err.message : String(err);
      t.notBefore = Date.now() + 2000;
      t.run = {
        state: "waiting",
        reason: "CreateContainerError",
        message,
        restarts: t.run.restarts,
        last: t.run.last,
      };
      this.#event(t, "Warning", "Failed", `Error: ${message}`);
      this.#opts.onEvent?.(pod, `could not start: ${message}`);
    }
  }

  /** How the runner starts the Pod: its output to its log, its network and address, its image's full name. */
  #runOptions(t: Tracked, log: InstanceLog): RunOptions {
    const { pod } = t;
    const { onLine } = this.#opts;
    const net = pod.spec?.hostNetwork === true ? undefined : this.#network;
    return {
      onLine: (line, stream) => {
        log.append(stream, line);
        onLine?.(pod, line);
      },
      network: net && { name: net.bridge, ip: t.addresses.podIP },
      image: t.image,
    };
  }

  #exited(t: Tracked, proc: LocalProcess, exitCode: number, startedAt: string): void {
    if (t.proc !== proc) return;
    t.proc = undefined;
    if (t.stopping || this.#stopping) return;
    const last: Termination = {
      exitCode,
      startedAt,
      finishedAt: new Date().toISOString(),
      output: proc.output(),
    };
    const policy = t.pod.spec?.restartPolicy ?? "Always";
    if (policy === "Never" || (policy === "OnFailure" && exitCode === 0)) {
      t.run = { state: "terminated", restarts: t.run.restarts, last };
      this.#opts.onEvent?.(t.pod, `exited with code ${exitCode}`);
    } else {
      const restarts = t.run.restarts + 1;
      const delay = backOffMs(restarts);
      t.notBefore = Date.now() + delay;
      const name = t.pod.spec?.containers[0]?.name ?? "";
      t.run = {
        state: "waiting",
        reason: "CrashLoopBackOff",
        message: backOffMessage(t.pod, name, delay),
        restarts,
        last,
      };
      this.#event(t, "Warning", "BackOff", "Back-off restarting failed container");
      this.#opts.onEvent?.(t.pod, `exited with code ${exitCode}; restarting in ${delay} ms`);
    }
    void this.#report(t).catch(() => undefined);
  }

  /** Graceful deletion, as the kubelet does it: stop the containers, then remove the Pod for good. */
  async #terminate(t: Tracked): Promise<void> {
    if (t.stopping) return;
    t.stopping = true;
    await t.proc?.stop();
    t.log?.end();
    await this.#http
      .request("DELETE", podPath(t.pod), {
        body: {
          kind: "DeleteOptions",
          apiVersion: "v1",
          gracePeriodSeconds: 0,
          preconditions: { uid: t.pod.metadata?.uid },
        },
      })
      .catch(() => undefined);
  }

  /** An Event about the Pod, as the kubelet writes one; a repeat of the last one is not written again. */
  #event(t: Tracked, type: "Normal" | "Warning", reason: string, message: string): void {
    const key = `${reason}|${message}`;
    if (key === t.lastEvent || t.stopping || this.#stopping) return;
    t.lastEvent = key;
    const meta = t.pod.metadata ?? {};
    const now = new Date().toISOString();
    const container = t.pod.spec?.containers[0]?.name ?? "";
    void this.#http
      .request("POST", `/api/v1/namespaces/${meta.namespace ?? ""}/events`, {
        body: {
          apiVersion: "v1",
          kind: "Event",
          metadata: {
            name: `${meta.name ?? ""}.${randomBytes(8).toString("hex")}`,
            namespace: meta.namespace,
          },
          involvedObject: {
            apiVersion: "v1",
            kind: "Pod",
            name: meta.name,
            namespace: meta.namespace,
            uid: meta.uid,
            fieldPath: `spec.containers{${container}}`,
          },
          type,
          reason,
          message,
          source: { component: "kubelet", host: LOCAL_NODE_NAME },
          reportingComponent: "kubelet",
          reportingInstance: LOCAL_NODE_NAME,
          firstTimestamp: now,
          lastTimestamp: now,
          count: 1,
        },
      })
      .catch(() => undefined);
  }

  async #report(t: Tracked): Promise<void> {
    if (t.stopping) return;
    const status = {
      ...(t.simulated
        ? simulatedStatus(t.pod, t.startedAt, t.addresses)
        : podStatus(t.pod, t.run, t.startedAt, t.addresses)),
      startTime: t.startedAt,
    };
    const text = JSON.stringify(status);
    if (text === t.written) return;
    // A JSON merge patch replaces the lists whole: a container's state must hold
    // exactly one of running, waiting and terminated, which a strategic merge would mix.
    await this.#http.request("PATCH", `${podPath(t.pod)}/status`, {
      body: { status },
      contentType: "application/merge-patch+json",
    });
    t.written = text;
  }
}
