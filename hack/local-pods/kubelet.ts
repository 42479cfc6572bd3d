// A stand-in kubelet for the demo and the end-to-end tests: the kubelet of a
// node of its own (node.ts), where, while it runs, every new Pod lands. It runs
// the Pods whose image it knows (ours, or a user image built FROM ours) as
// local processes or real containers (runner.ts), restarts them with back-off
// as restartPolicy Always does, stops them when the Pod is deleted, and reports
// what truly happens: the container running, waiting in CrashLoopBackOff,
// terminated with its exit code, the restart count and the last termination.
// Pods of images it does not know (say, the Deployment being scaled) are
// reported running without running anything, as kwok does. Pods share this
// machine's network, like hostNetwork Pods.
//
// At start it takes back what an earlier run left on the kwok node: a Pod of an
// image it runs, made by a controller (a ReplicaSet, the operator) and bound to
// the kwok node, which only pretends to run it, is deleted so that its
// controller makes it again, here. With `logDir`, each Pod's output is also
// appended to <logDir>/<namespace>_<name>.log.
import { appendFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import type { KubeConfig, V1Pod } from "@kubernetes/client-node";
import { KubeHttp } from "../../src/kube/http.ts";
import { FAKE_NODE_NAME } from "../plane/config.ts";
import { LOCAL_NODE_NAME, LocalNode } from "./node.ts";
import type { LocalProcess } from "./pod-runner.ts";
import {
  backOffMessage,
  podStatus,
  simulatedStatus,
  type ContainerRun,
  type Termination,
} from "./pod-status.ts";
import type { PodRunner } from "./runner.ts";

interface Tracked {
  pod: V1Pod;
  /** Runs nothing: its image is not one we can run. */
  simulated: boolean;
  run: ContainerRun;
  proc: LocalProcess | undefined;
  startedAt: string;
  /** Do not start again before this time (ms): restart back-off. */
  notBefore: number;
  /** The status last written, to write only changes. */
  written: string;
  stopping: boolean;
}

export interface KubeletOptions {
  admin: KubeConfig;
  /** The images it can run, and how: local processes (LocalImages) or containers (ContainerRunner). */
  images: PodRunner;
  /** Each line a Pod's process prints. */
  onLine?: (pod: V1Pod, line: string) => void;
  /** What the kubelet does: started, exited, stopped. */
  onEvent?: (pod: V1Pod, message: string) => void;
  /** A folder for each Pod's output, one file per Pod: <namespace>_<name>.log. */
  logDir?: string;
  pollMs?: number;
}

const podName = (pod: V1Pod): string => `${pod.metadata?.namespace ?? ""}/${pod.metadata?.name ?? ""}`;
const podPath = (pod: V1Pod): string =>
  `/api/v1/namespaces/${pod.metadata?.namespace ?? ""}/pods/${pod.metadata?.name ?? ""}`;
/** Back-off before restart n (1-based): the kubelet's doubling, capped low for local use. */
const backOffMs = (restarts: number): number => Math.min(1000 * 2 ** (restarts - 1), 10_000);

export class LocalKubelet {
  readonly #opts: KubeletOptions;
  readonly #http: KubeHttp;
  readonly #node: LocalNode;
  readonly #tracked = new Map<string, Tracked>();
  #timer: NodeJS.Timeout | undefined;
  #stopping = false;
  #syncing: Promise<void> = Promise.resolve();
  #registered: Promise<void> = Promise.resolve();

  constructor(opts: KubeletOptions) {
    this.#opts = opts;
    this.#http = new KubeHttp(opts.admin);
    this.#node = new LocalNode(opts.admin);
  }

  /**
   * Registers the node, takes back the Pods an earlier run left on the kwok
   * node, and starts syncing; resolves once the node is registered.
   */
  start(): Promise<void> {
    this.#registered = this.#node.register().then(() => this.#reclaim());
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

  /** The processes running now, by namespace/name. */
  running(): string[] {
    return [...this.#tracked.values()].filter((t) => t.proc).map((t) => podName(t.pod));
  }

  /** Where a Pod's output is written, with `logDir`. */
  logFile(namespace: string, name: string): string | undefined {
    return this.#opts.logDir && join(this.#opts.logDir, `${namespace}_${name}.log`);
  }

  /** Output of the running (or last) process of a Pod. */
  output(namespace: string, name: string): string {
    const t = [...this.#tracked.values()].find(
      (x) => x.pod.metadata?.namespace === namespace && x.pod.metadata.name === name,
    );
    return t?.proc?.output() ?? "";
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    clearTimeout(this.#timer);
    await this.#syncing;
    await Promise.all(
      [...this.#tracked.values()].map(async (t) => {
        t.stopping = true;
        await t.proc?.stop();
      }),
    );
    this.#tracked.clear();
    await this.#registered.catch(() => undefined);
    await this.#node.unregister();
  }

  /** Deletes the controller-made Pods of images this kubelet runs that are bound to the kwok node. */
  async #reclaim(): Promise<void> {
    const list = await this.#http.request<{ items: V1Pod[] }>("GET", "/api/v1/pods", {
      query: { fieldSelector: `spec.nodeName=${FAKE_NODE_NAME}` },
    });
    // One look in the image store per image, however many Pods share it.
    const runs = new Map<string | undefined, Promise<boolean>>();
    const runnable = (image: string | undefined): Promise<boolean> => {
      let known = runs.get(image);
      if (!known) runs.set(image, (known = this.#opts.images.has(image)));
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

  async #sync(): Promise<void> {
    const list = await this.#http.request<{ items: V1Pod[] }>("GET", "/api/v1/pods", {
      query: { fieldSelector: `spec.nodeName=${LOCAL_NODE_NAME}` },
    });
    const live = new Map(list.items.map((p) => [p.metadata?.uid ?? "", p]));
    for (const [uid, t] of this.#tracked) {
      if (live.has(uid)) continue;
      this.#tracked.delete(uid);
      t.stopping = true;
      if (t.proc) {
        this.#opts.onEvent?.(t.pod, "Pod deleted: stopping its process");
        await t.proc.stop();
      }
    }
    for (const pod of list.items) {
      if (this.#stopping) return;
      const t = await this.#track(pod);
      if (pod.metadata?.deletionTimestamp) await this.#terminate(t);
      else await this.#step(t);
    }
  }

  async #track(pod: V1Pod): Promise<Tracked> {
    const uid = pod.metadata?.uid ?? "";
    const known = this.#tracked.get(uid);
    if (known) {
      known.pod = pod;
      return known;
    }
    const t: Tracked = {
      pod,
      simulated: !(await this.#opts.images.has(pod.spec?.containers[0]?.image)),
      run: { state: "creating", restarts: 0 },
      proc: undefined,
      startedAt: new Date().toISOString(),
      notBefore: 0,
      written: "",
      stopping: false,
    };
    this.#tracked.set(uid, t);
    return t;
  }

  /** Starts what is due to start, and reports the Pod's status if it changed. */
  async #step(t: Tracked): Promise<void> {
    if (!t.simulated && !t.proc && t.run.state !== "terminated" && Date.now() >= t.notBefore)
      await this.#launch(t);
    await this.#report(t);
  }

  async #launch(t: Tracked): Promise<void> {
    const { pod } = t;
    const onLine = this.#lineSink(pod);
    try {
      const proc = await this.#opts.images.run(pod, this.#opts.admin, onLine ? { onLine } : {});
      const startedAt = new Date().toISOString();
      t.proc = proc;
      t.run = { state: "running", startedAt, restarts: t.run.restarts, last: t.run.last };
      this.#opts.onEvent?.(pod, t.run.restarts === 0 ? "started" : `restarted (${t.run.restarts})`);
      void proc.exited.then((code) => {
        this.#exited(t, proc, code ?? 137, startedAt);
      });
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      t.notBefore = Date.now() + 2000;
      t.run = {
        state: "waiting",
        reason: "CreateContainerError",
        message,
        restarts: t.run.restarts,
        last: t.run.last,
      };
      this.#opts.onEvent?.(pod, `could not start: ${message}`);
    }
  }

  /** Where a Pod's output lines go: the onLine callback and the Pod's log file. */
  #lineSink(pod: V1Pod): ((line: string) => void) | undefined {
    const { onLine } = this.#opts;
    const file = this.logFile(pod.metadata?.namespace ?? "", pod.metadata?.name ?? "");
    if (file) mkdirSync(this.#opts.logDir ?? "", { recursive: true });
    if (!onLine && !file) return undefined;
    return (line) => {
      onLine?.(pod, line);
      if (file) appendFileSync(file, `${line}\n`);
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
      this.#opts.onEvent?.(t.pod, `exited with code ${exitCode}; restarting in ${delay} ms`);
    }
    void this.#report(t).catch(() => undefined);
  }

  /** Graceful deletion, as the kubelet does it: stop the containers, then remove the Pod for good. */
  async #terminate(t: Tracked): Promise<void> {
    if (t.stopping) return;
    t.stopping = true;
    await t.proc?.stop();
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

  async #report(t: Tracked): Promise<void> {
    if (t.stopping) return;
    const status = {
      ...(t.simulated ? simulatedStatus(t.pod, t.startedAt) : podStatus(t.pod, t.run, t.startedAt)),
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
