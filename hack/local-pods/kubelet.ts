// A stand-in kubelet for our images. kwok marks Pods Running on its fake node
// but runs nothing; this runs the Pods whose image is one we know (ours, or a
// user image built FROM ours) as local processes with runPodLocally: started
// when the Pod is Running, restarted with backoff when the process exits (as
// restartPolicy Always would), stopped when the Pod is deleted. Pods share this
// machine's network, like hostNetwork Pods.
import { CoreV1Api, type KubeConfig, type V1Pod } from "@kubernetes/client-node";
import type { LocalProcess } from "./pod-runner.ts";
import type { PodRunner } from "./runner.ts";

interface Tracked {
  pod: V1Pod;
  proc: LocalProcess | undefined;
  restarts: number;
  /** Do not start again before this time (ms): restart backoff. */
  notBefore: number;
}

export interface KubeletOptions {
  admin: KubeConfig;
  /** The images it can run, and how: local processes (LocalImages) or containers (ContainerRunner). */
  images: PodRunner;
  /** Each line a Pod's process prints. */
  onLine?: (pod: V1Pod, line: string) => void;
  /** What the kubelet does: started, exited, stopped. */
  onEvent?: (pod: V1Pod, message: string) => void;
  pollMs?: number;
}

const podName = (pod: V1Pod): string => `${pod.metadata?.namespace ?? ""}/${pod.metadata?.name ?? ""}`;

export class LocalKubelet {
  readonly #opts: KubeletOptions;
  readonly #core: CoreV1Api;
  readonly #tracked = new Map<string, Tracked>();
  #timer: NodeJS.Timeout | undefined;
  #stopping = false;
  #syncing: Promise<void> = Promise.resolve();

  constructor(opts: KubeletOptions) {
    this.#opts = opts;
    this.#core = opts.admin.makeApiClient(CoreV1Api);
  }

  start(): void {
    const tick = (): void => {
      this.#syncing = this.#sync()
        .catch((err: unknown) => {
          this.#opts.onEvent?.({}, `sync failed: ${err instanceof Error ? err.message : String(err)}`);
        })
        .finally(() => {
          if (!this.#stopping) this.#timer = setTimeout(tick, this.#opts.pollMs ?? 500);
        });
    };
    tick();
  }

  /** The processes running now, by namespace/name. */
  running(): string[] {
    return [...this.#tracked.values()].filter((t) => t.proc).map((t) => podName(t.pod));
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
    await Promise.all([...this.#tracked.values()].map(async (t) => t.proc?.stop()));
    this.#tracked.clear();
  }

  async #sync(): Promise<void> {
    const pods = (await this.#core.listPodForAllNamespaces()).items.filter(
      (p) =>
        p.status?.phase === "Running" &&
        !p.metadata?.deletionTimestamp &&
        this.#opts.images.has(p.spec?.containers[0]?.image),
    );
    const live = new Set(pods.map((p) => p.metadata?.uid ?? ""));
    for (const [uid, t] of this.#tracked) {
      if (live.has(uid)) continue;
      this.#tracked.delete(uid);
      if (t.proc) {
        this.#opts.onEvent?.(t.pod, "Pod deleted: stopping its process");
        await t.proc.stop();
      }
    }
    for (const pod of pods) {
      const uid = pod.metadata?.uid ?? "";
      const t = this.#tracked.get(uid) ?? { pod, proc: undefined, restarts: 0, notBefore: 0 };
      this.#tracked.set(uid, t);
      if (!t.proc && Date.now() >= t.notBefore && !this.#stopping) await this.#launch(t);
    }
  }

  async #launch(t: Tracked): Promise<void> {
    const { pod } = t;
    const onLine = this.#opts.onLine;
    try {
      const proc = await this.#opts.images.run(
        pod,
        this.#opts.admin,
        onLine
          ? {
              onLine: (l) => {
                onLine(pod, l);
              },
            }
          : {},
      );
      t.proc = proc;
      this.#opts.onEvent?.(pod, t.restarts === 0 ? "started" : `restarted (${t.restarts})`);
      void proc.exited.then((code) => {
        if (t.proc !== proc) return;
        t.proc = undefined;
        t.restarts += 1;
        // restartPolicy Always, with the kubelet's doubling backoff (capped low for local use).
        t.notBefore = Date.now() + Math.min(1000 * 2 ** (t.restarts - 1), 10_000);
        if (!this.#stopping) this.#opts.onEvent?.(pod, `exited with code ${String(code)}; restarting`);
      });
    } catch (err) {
      t.restarts += 1;
      t.notBefore = Date.now() + 2000;
      this.#opts.onEvent?.(pod, `could not start: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
}
