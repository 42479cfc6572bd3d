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

export function podHealth(pod: V1Pod, now: number): PodHealth {
  const name = pod.metadata?.name ?? "";
  const phase = pod.status?.phase ?? "Pending";
  const statuses = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])];
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
  return !s.state?.waiting || s.state.waiting.reason === "ContainerCreating";
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
