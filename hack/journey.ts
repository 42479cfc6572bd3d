// The getting-started journey's steps on the local cluster, as `npm run demo`
// shows them and the end-to-end test (test/integration/getting-started.test.ts)
// checks them: one sequence for both, so the main job and its test cannot drift.
//
// Every wait knows what it waits for: a Pod of ours bound to a node where
// nothing runs it fails at once, saying so, and a timeout says what it saw
// (each Pod's node, phase and container state, the end of its output, and
// where its log is).
import { setTimeout as sleep } from "node:timers/promises";
import { AppsV1Api, CoreV1Api, CustomObjectsApi, type KubeConfig, type V1Pod } from "@kubernetes/client-node";
import type { CustomPodAutoscaler } from "../src/api/custom-pod-autoscaler.ts";
import type { LocalKubelet } from "./local-pods/kubelet.ts";
import { LOCAL_NODE_NAME } from "./local-pods/node.ts";

export class JourneyError extends Error {
  override readonly name = "JourneyError";
}

/** Runs kubectl against the journey's cluster; rejects, with its stderr, when it exits non-zero. */
export type Kubectl = (args: string[]) => Promise<string>;

export interface JourneyOptions {
  kubectl: Kubectl;
  admin: KubeConfig;
  kubelet: LocalKubelet;
  /** kubectl's output and progress, as the demo prints them. */
  log?: (line: string) => void;
  timeoutMs?: number;
}

export const CRD_NAME = "custompodautoscalers.custompodautoscaler.com";
export const OPERATOR_SELECTOR = "app.kubernetes.io/name=cpa-operator";
/** Where the operator's Pod answers its readiness probe, on its Pod IP. */
export const operatorReadyz = (podIP: string): string => `http://${podIP}:8080/readyz`;

/**
 * The namespaced install's kubectl steps after applying its bundle in
 * `operatorNamespace` (docs/operator.md): a RoleBinding into `team` to the
 * cpa-operator ClusterRole, the ClusterRoleBinding (named after
 * `operatorNamespace`) that lets it read the admission policy, and `team` in
 * WATCH_NAMESPACE.
 */
export function bindNamespacedOperator(operatorNamespace: string, team: string): string[][] {
  return [
    [
      "create",
      "rolebinding",
      "cpa-operator",
      "-n",
      team,
      "--clusterrole=cpa-operator",
      `--serviceaccount=${operatorNamespace}:cpa-operator`,
    ],
    // Cluster-wide it may read the admission policy, which it checks before provisioning.
    [
      "create",
      "clusterrolebinding",
      operatorNamespace,
      "--clusterrole=cpa-operator-admission-policy",
      `--serviceaccount=${operatorNamespace}:cpa-operator`,
    ],
    ["set", "env", "-n", operatorNamespace, "deployment/cpa-operator", `WATCH_NAMESPACE=${team}`],
  ];
}

const podRef = (pod: V1Pod): string => `${pod.metadata?.namespace ?? ""}/${pod.metadata?.name ?? ""}`;

function containerState(pod: V1Pod): string {
  const state = pod.status?.containerStatuses?.[0]?.state;
  if (state?.running) return "running";
  const waiting = state?.waiting;
  if (waiting) return `waiting (${[waiting.reason, waiting.message].filter(Boolean).join(": ")})`;
  if (state?.terminated) return `terminated (exit ${state.terminated.exitCode})`;
  return "no container status";
}

/** One line on what a Pod is doing: its node, phase, first container's state and readiness. */
export function podSummary(pod: V1Pod): string {
  const ready = pod.status?.conditions?.find((c) => c.type === "Ready")?.status ?? "Unknown";
  const node = pod.spec?.nodeName ?? "(none yet)";
  const phase = pod.status?.phase ?? "(none)";
  return `Pod ${podRef(pod)}: node ${node}, phase ${phase}, container ${containerState(pod)}, Ready ${ready}`;
}

/**
 * The error for a Pod of an image the local kubelet runs that was bound to
 * another node: there it is only reported running, so waiting would never end.
 */
export function misplacedPod(pods: readonly V1Pod[]): string | undefined {
  const away = pods.find((p) => p.spec?.nodeName && p.spec.nodeName !== LOCAL_NODE_NAME);
  if (!away) return undefined;
  return (
    `${podSummary(away)}. Nothing runs Pods on ${away.spec?.nodeName ?? ""}: the fake node only reports them running. ` +
    `Pods of our images must be scheduled to ${LOCAL_NODE_NAME}, the local kubelet's node, which must be registered ` +
    `(LocalKubelet.start) before anything that creates them is applied.`
  );
}

export class Journey {
  readonly #o: JourneyOptions;
  readonly #core: CoreV1Api;
  readonly #apps: AppsV1Api;
  readonly #custom: CustomObjectsApi;

  constructor(opts: JourneyOptions) {
    this.#o = opts;
    this.#core = opts.admin.makeApiClient(CoreV1Api);
    this.#apps = opts.admin.makeApiClient(AppsV1Api);
    this.#custom = opts.admin.makeApiClient(CustomObjectsApi);
  }

  #log(text: string): void {
    if (text !== "") this.#o.log?.(text);
  }

  /**
   * `kubectl apply` of the operator's manifests (`-f config/cluster.yaml`, `-k
   * overlay`), then any further kubectl commands the install takes, and the
   * operator's Deployment running on the local kubelet (both replicas, each
   * Pod on its own address, one leading; one where Pods share the host's
   * network) and answering /readyz.
   */
  async installOperator(apply: string[], namespace: string, then: string[][] = []): Promise<void> {
    this.#log(await this.#o.kubectl(["apply", ...apply]));
    // Pods on the host's network (no Pod network here) would fight over the operator's port 8080.
    if (this.#o.kubelet.sharedNetwork !== undefined)
      await this.#o.kubectl(["scale", "deployment/cpa-operator", "-n", namespace, "--replicas=1"]);
    // What the install takes after the apply (the namespaced install's RoleBinding and WATCH_NAMESPACE).
    for (const args of then) this.#log(await this.#o.kubectl(args));
    await this.#o.kubectl(["wait", "--for=condition=Established", `crd/${CRD_NAME}`]);
    // As a user waits for an install (and for the rollout a `kubectl set env` starts).
    const timeout = `--timeout=${Math.round((this.#o.timeoutMs ?? 120_000) / 1000)}s`;
    await this.#o.kubectl(["rollout", "status", "deployment/cpa-operator", "-n", namespace, timeout]);
    await this.operatorReady(namespace);
  }

  async #pods(namespace: string, labelSelector: string): Promise<V1Pod[]> {
    const list = await this.#core.listNamespacedPod({ namespace, labelSelector });
    return list.items.filter((p) => !p.metadata?.deletionTimestamp);
  }

  async #pod(namespace: string, name: string): Promise<V1Pod[]> {
    const pod = await this.#core.readNamespacedPod({ name, namespace }).catch(() => undefined);
    return pod && !pod.metadata?.deletionTimestamp ? [pod] : [];
  }

  /** What the Pods were doing: summary, the end of their output, where their logs are. */
  #describe(pods: readonly V1Pod[]): string {
    if (pods.length === 0) return "no Pod was there";
    return pods
      .map((pod) => {
        const ns = pod.metadata?.namespace ?? "";
        const name = pod.metadata?.name ?? "";
        const output = this.#o.kubelet.output(ns, name).trimEnd().split("\n").slice(-15).join("\n");
        const file = this.#o.kubelet.logFile(ns, name);
        return [
          podSummary(pod),
          output ? `--- the last lines it printed ---\n${output}` : "it printed nothing",
          ...(file ? [`its log: ${file}`] : []),
        ].join("\n");
      })
      .join("\n");
  }

  /**
   * Polls `check` until it is true; fails at once if one of `pods` is bound
   * where nothing runs it, and on a timeout says what they were doing.
   */
  async #waitFor(what: string, pods: () => Promise<V1Pod[]>, check: () => Promise<boolean>): Promise<void> {
    const timeoutMs = this.#o.timeoutMs ?? 120_000;
    const deadline = Date.now() + timeoutMs;
    let last: unknown;
    for (;;) {
      const seen = await pods().catch(() => []);
      const away = misplacedPod(seen);
      if (away) throw new JourneyError(`waiting for ${what}: ${away}`);
      try {
        if (await check()) return;
      } catch (err) {
        last = err;
      }
      if (Date.now() > deadline) {
        const reason = last instanceof Error ? ` (last error: ${last.message})` : "";
        throw new JourneyError(
          `timed out after ${timeoutMs / 1000}s waiting for ${what}${reason}\n${this.#describe(seen)}`,
        );
      }
      await sleep(500);
    }
  }

  async operatorReady(namespace: string): Promise<void> {
    await this.#waitFor(
      "the operator to be ready",
      () => this.#pods(namespace, OPERATOR_SELECTOR),
      async () => {
        const ips = (await this.#pods(namespace, OPERATOR_SELECTOR)).map((p) => p.status?.podIP);
        const answers = await Promise.all(
          ips.map(async (ip) => ip !== undefined && (await fetch(operatorReadyz(ip))).ok),
        );
        return answers.length > 0 && !answers.includes(false);
      },
    );
  }

  async #cpa(namespace: string, name: string): Promise<CustomPodAutoscaler> {
    return (await this.#custom.getNamespacedCustomObject({
      group: "custompodautoscaler.com",
      version: "v1",
      namespace,
      plural: "custompodautoscalers",
      name,
    })) as CustomPodAutoscaler;
  }

  /** The CPA Ready: provisioned, and its autoscaler Pod running on the local kubelet. */
  async cpaReady(namespace: string, name: string): Promise<void> {
    let ready: string | undefined;
    try {
      await this.#waitFor(
        `the CPA ${namespace}/${name} to be Ready`,
        () => this.#pod(namespace, name),
        async () => {
          const condition = (await this.#cpa(namespace, name)).status?.conditions?.find(
            (c) => c.type === "Ready",
          );
          ready = condition && `${condition.status} ${condition.reason}: ${condition.message}`;
          return condition?.status === "True";
        },
      );
    } catch (err) {
      if (err instanceof JourneyError && ready) err.message += `\nits Ready condition: ${ready}`;
      throw err;
    }
  }

  async replicas(namespace: string, name: string): Promise<number> {
    return (await this.#apps.readNamespacedDeploymentScale({ name, namespace })).spec?.replicas ?? 0;
  }

  /**
   * Waits for the Deployment `name` to have `want` replicas, calling onChange
   * for every change on the way; `scaler` names the autoscaler Pod, for what
   * the timeout says.
   */
  async reachReplicas(
    namespace: string,
    name: string,
    want: number,
    opts: { scaler: string; onChange?: (from: number, to: number) => void },
  ): Promise<void> {
    let last = await this.replicas(namespace, name);
    await this.#waitFor(
      `${name} at ${want} replicas`,
      () => this.#pod(namespace, opts.scaler),
      async () => {
        const now = await this.replicas(namespace, name);
        if (now !== last) opts.onChange?.(last, now);
        last = now;
        return now === want;
      },
    );
  }
}
