// What the local kubelet reports for a Pod it runs, as a real kubelet would:
// the phase, the Pod's conditions and each container's state (running,
// waiting with a reason, terminated with an exit code), restart count and last
// termination. Pure: the kubelet keeps the facts, this turns them into status.
import type { V1Container, V1ContainerStatus, V1Pod, V1PodCondition } from "@kubernetes/client-node";

export interface Termination {
  exitCode: number;
  startedAt: string;
  finishedAt: string;
  /** What it printed, for terminationMessagePolicy FallbackToLogsOnError. */
  output: string;
}

/** The facts about the container the kubelet runs (the Pod's first). */
export type ContainerRun =
  | { state: "creating"; restarts: number; last?: Termination | undefined }
  | { state: "running"; startedAt: string; restarts: number; last?: Termination | undefined }
  /** Waiting to start again (CrashLoopBackOff) or failing to start (CreateContainerError). */
  | { state: "waiting"; reason: string; message: string; restarts: number; last?: Termination | undefined }
  /** Ended, not to be restarted (restartPolicy Never or OnFailure after success). */
  | { state: "terminated"; restarts: number; last: Termination };

/** The kubelet's rule: the end of the log, at most 80 lines and 2048 bytes. */
export function fallbackMessage(output: string): string {
  const lines = output.trimEnd().split("\n").slice(-80).join("\n");
  const bytes = Buffer.from(lines, "utf8");
  return bytes.length <= 2048 ? lines : bytes.subarray(bytes.length - 2048).toString("utf8");
}

function terminated(container: V1Container, t: Termination) {
  const fallback = container.terminationMessagePolicy === "FallbackToLogsOnError" && t.exitCode !== 0;
  return {
    exitCode: t.exitCode,
    reason: t.exitCode === 0 ? "Completed" : "Error",
    startedAt: t.startedAt,
    finishedAt: t.finishedAt,
    ...(fallback && t.output.trim() !== "" ? { message: fallbackMessage(t.output) } : {}),
  };
}

function stateOf(container: V1Container, run: ContainerRun): V1ContainerStatus["state"] {
  switch (run.state) {
    case "creating":
      return { waiting: { reason: "ContainerCreating" } };
    case "running":
      return { running: { startedAt: run.startedAt as unknown as Date } };
    case "waiting":
      return { waiting: { reason: run.reason, message: run.message } };
    case "terminated":
      return { terminated: terminated(container, run.last) as never };
  }
}

const condition = (type: string, ok: boolean, reason?: string, message?: string): V1PodCondition => ({
  type,
  status: ok ? "True" : "False",
  ...(reason ? { reason } : {}),
  ...(message ? { message } : {}),
});

/** A Pod's addresses: the node's (hostIP) and its own (the node's too with hostNetwork). */
export interface PodAddresses {
  hostIP: string;
  podIP: string;
}

const LOOPBACK: PodAddresses = { hostIP: "127.0.0.1", podIP: "127.0.0.1" };

const addresses = (a: PodAddresses) => ({
  hostIP: a.hostIP,
  hostIPs: [{ ip: a.hostIP }],
  podIP: a.podIP,
  podIPs: [{ ip: a.podIP }],
});

/**
 * The status of a Pod whose first container is `run`; other containers are
 * not run here and are reported running, as a simulated kubelet reports them.
 */
export function podStatus(pod: V1Pod, run: ContainerRun, now: string, at: PodAddresses = LOOPBACK): object {
  const containers = pod.spec?.containers ?? [];
  const [first, ...others] = containers;
  if (!first) return {};
  const firstStatus = {
    name: first.name,
    image: first.image ?? "",
    imageID: "",
    ready: run.state === "running",
    started: run.state === "running",
    restartCount: run.restarts,
    state: stateOf(first, run),
    ...(run.state !== "terminated" && run.last
      ? { lastState: { terminated: terminated(first, run.last) } }
      : {}),
  };
  const otherStatuses = others.map((c) => runningStatus(c, now));
  const ready = run.state === "running";
  const notReady = ready ? undefined : `containers with unready status: [${first.name}]`;
  const phase =
    run.state === "terminated"
      ? run.last.exitCode === 0
        ? "Succeeded"
        : "Failed"
      : run.state === "creating" && run.restarts === 0
        ? "Pending"
        : "Running";
  return {
    phase,
    ...addresses(at),
    conditions: [
      condition("PodScheduled", true),
      condition("Initialized", true),
      condition("ContainersReady", ready, ready ? undefined : "ContainersNotReady", notReady),
      condition("Ready", ready, ready ? undefined : "ContainersNotReady", notReady),
    ],
    containerStatuses: [firstStatus, ...otherStatuses],
  };
}

/** A container reported running and ready since now, as kwok reports every container. */
function runningStatus(c: { name: string; image?: string | undefined }, now: string): object {
  return {
    name: c.name,
    image: c.image ?? "",
    imageID: "",
    ready: true,
    started: true,
    restartCount: 0,
    state: { running: { startedAt: now } },
  };
}

/** The status of a Pod whose image the kubelet cannot run: simulated as running, as kwok does. */
export function simulatedStatus(pod: V1Pod, now: string, at: PodAddresses = LOOPBACK): object {
  return {
    phase: "Running",
    ...addresses(at),
    startTime: now,
    conditions: [
      condition("PodScheduled", true),
      condition("Initialized", true),
      condition("ContainersReady", true),
      condition("Ready", true),
    ],
    containerStatuses: (pod.spec?.containers ?? []).map((c) => runningStatus(c, now)),
  };
}

/** The kubelet's message for a container in back-off, with our (shorter) delay. */
export function backOffMessage(pod: V1Pod, container: string, delayMs: number): string {
  const meta = pod.metadata ?? {};
  return `back-off ${Math.round(delayMs / 1000)}s restarting failed container=${container} pod=${meta.name ?? ""}_${meta.namespace ?? ""}(${meta.uid ?? ""})`;
}
