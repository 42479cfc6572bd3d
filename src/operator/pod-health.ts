// Whether the autoscaler Pod really runs, from what its kubelet reports: the
// Pod's Ready condition and each container's state. A Pod whose phase is
// Running can hold a container in CrashLoopBackOff, so the phase alone lies.
import type { V1ContainerStatus, V1Pod } from "@kubernetes/client-node";

/**
 * How long an autoscaler that restarted must run before it counts as ready
 * again. The kubelet's crash-loop back-off grows to 5 minutes; an autoscaler
 * that restarts within that is still failing, and its CPA should stay
 * Ready=False rather than flip with every restart.
 */
export const RESTART_DAMPING_MS = 5 * 60_000;

export type PodHealth =
  | { state: "running" }
  | { state: "pending"; message: string }
  | { state: "not-ready"; message: string }
  /** Running and ready, but restarted less than RESTART_DAMPING_MS ago: look again after recheckInMs. */
  | { state: "settling"; message: string; recheckInMs: number };

const time = (t: unknown): number =>
  t instanceof Date ? t.getTime() : typeof t === "string" ? Date.parse(t) : NaN;

/** `exit code 1 (Error): <message>`, of a container's last termination, if any. */
function lastTermination(status: V1ContainerStatus): string | undefined {
  const t = status.lastState?.terminated ?? status.state?.terminated;
  if (!t) return undefined;
  const message = t.message?.trim();
  const reason = t.reason ? ` (${t.reason})` : "";
  return `last exit code ${t.exitCode}${reason}${message ? `: ${oneLine(message)}` : ""}`;
}

function oneLine(text: string, max = 300): string {
  const flat = text.replace(/\s*\n\s*/g, " | ");
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

function restarts(status: V1ContainerStatus): string {
  return status.restartCount > 0
    ? `restarted ${status.restartCount} time${status.restartCount === 1 ? "" : "s"}`
    : "";
}

/** Why a container is not running as it should, in a sentence; undefined when it runs and is ready. */
function containerProblem(status: V1ContainerStatus): string | undefined {
  const parts: string[] = [];
  const waiting = status.state?.waiting;
  const terminated = status.state?.terminated;
  if (waiting)
    parts.push(
      `is waiting: ${waiting.reason ?? "unknown reason"}${waiting.message ? ` (${oneLine(waiting.message, 200)})` : ""}`,
    );
  else if (terminated) parts.push(`has terminated`);
  else if (!status.ready) parts.push("is running but not ready");
  else return undefined;
  const r = restarts(status);
  if (r) parts.push(r);
  const last = lastTermination(status);
  if (last) parts.push(last);
  return `container ${status.name} ${parts.join("; ")}`;
}

/**
 * Native sidecars (init containers with restartPolicy Always) keep running
 * beside the main containers and count as they do; other init containers run
 * to completion before them.
 */
function splitInit(pod: V1Pod): { init: V1ContainerStatus[]; sidecars: V1ContainerStatus[] } {
  const sidecar = new Set(
    (pod.spec?.initContainers ?? []).filter((c) => c.restartPolicy === "Always").map((c) => c.name),
  );
  const all = pod.status?.initContainerStatuses ?? [];
  return { init: all.filter((s) => !sidecar.has(s.name)), sidecars: all.filter((s) => sidecar.has(s.name)) };
}

const completed = (s: V1ContainerStatus): boolean => s.state?.terminated?.exitCode === 0;

/** What an init container that has not completed is doing wrong, or undefined while it runs as it should. */
function initFailure(s: V1ContainerStatus): string | undefined {
  const terminated = s.state?.terminated;
  const waiting = s.state?.waiting;
  if (terminated)
    return `failed with exit code ${terminated.exitCode}${terminated.reason ? ` (${terminated.reason})` : ""}`;
  if (waiting && !isStarting(s))
    return `is waiting: ${waiting.reason ?? "unknown reason"}${waiting.message ? ` (${oneLine(waiting.message, 200)})` : ""}`;
  // Running again after failing: the kubelet retries it; it is failing until it completes.
  if (s.restartCount > 0 && s.lastState?.terminated) return "is running again after failing";
  return undefined;
}

/** Why an init container fails, in a sentence; undefined while it completes or runs as it should. */
function initProblem(s: V1ContainerStatus): string | undefined {
  if (completed(s)) return undefined;
  const failure = initFailure(s);
  if (!failure) return undefined;
  const terminated = s.state?.terminated;
  // A terminated state is the termination itself: its message, not the same exit code twice.
  const last = terminated
    ? terminated.message
      ? oneLine(terminated.message)
      : ""
    : (lastTermination(s) ?? "");
  const details = [restarts(s), last];
  return `init container ${s.name} ${[failure, ...details.filter((d) => d !== "")].join("; ")}`;
}

export function podHealth(pod: V1Pod, now: number): PodHealth {
  const name = pod.metadata?.name ?? "";
  const phase = pod.status?.phase ?? "Pending";
  const { init, sidecars } = splitInit(pod);
  const failing = init.map(initProblem).filter((p): p is string => p !== undefined);
  if (failing.length > 0)
    return { state: "not-ready", message: `The autoscaler Pod ${name} is not ready: ${failing.join("; ")}` };
  const initialising = init.find((s) => !completed(s));
  if (initialising) {
    const doing = initialising.state?.running ? "running" : "starting";
    return {
      state: "pending",
      message: `Waiting for the autoscaler Pod ${name} to initialise: init container ${initialising.name} is ${doing}`,
    };
  }
  const statuses = [...sidecars, ...(pod.status?.containerStatuses ?? [])];
  if (phase === "Pending" && statuses.every(isStarting)) {
    return { state: "pending", message: `Waiting for the autoscaler Pod ${name} to run (phase ${phase})` };
  }
  const problem = notReady(pod, statuses);
  if (problem) return { state: "not-ready", message: `The autoscaler Pod ${name} is not ready: ${problem}` };
  return settling(name, statuses, now) ?? { state: "running" };
}

/** What keeps the Pod from being ready: its containers' problems, else its Ready condition. */
function notReady(pod: V1Pod, statuses: V1ContainerStatus[]): string | undefined {
  const problems = statuses.map(containerProblem).filter((p): p is string => p !== undefined);
  if (problems.length > 0) return problems.join("; ");
  const ready = pod.status?.conditions?.find((c) => c.type === "Ready");
  if (ready?.status === "True") return undefined;
  return `its Ready condition is ${ready?.status ?? "unknown"}${ready?.message ? `: ${ready.message}` : ""}`;
}

/** Not started yet, and nothing wrong so far. */
function isStarting(s: V1ContainerStatus): boolean {
  const reason = s.state?.waiting?.reason;
  return !s.state?.waiting || reason === "ContainerCreating" || reason === "PodInitializing";
}

/** Ready now, but restarted recently: it must prove it stays up. */
function settling(name: string, statuses: V1ContainerStatus[], now: number): PodHealth | undefined {
  let settleUntil = 0;
  for (const s of statuses) {
    const started = time(s.state?.running?.startedAt);
    if (s.restartCount > 0 && Number.isFinite(started))
      settleUntil = Math.max(settleUntil, started + RESTART_DAMPING_MS);
  }
  if (settleUntil <= now) return undefined;
  const restarted = statuses
    .filter((s) => s.restartCount > 0)
    .map((s) => {
      const last = lastTermination(s);
      return `container ${s.name} ${restarts(s)}${last ? `; ${last}` : ""}`;
    });
  return {
    state: "settling",
    message:
      `The autoscaler Pod ${name} runs again but restarted recently (${restarted.join("; ")}); ` +
      `it counts as ready once it has run ${RESTART_DAMPING_MS / 60_000} minutes without restarting`,
    recheckInMs: settleUntil - now,
  };
}
