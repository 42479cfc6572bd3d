// Faults on the local control plane, for the fault suite: stop a component and
// start it again exactly as `up` did (same binary, arguments, ports and data),
// or freeze it with SIGSTOP and thaw it with SIGCONT.
import { setTimeout as sleep } from "node:timers/promises";
import { PlaneError } from "./errors.ts";
import { adminTls, readState, writeState } from "./plane.ts";
import { https, waitFor } from "./http.ts";
import { isOurs, startProcess, stopProcess, type StartedProcess } from "./processes.ts";

export type Component = "etcd" | "kube-apiserver" | "kube-controller-manager" | "kube-scheduler" | "kwok";

function component(name: Component): StartedProcess {
  const state = readState();
  const proc = state?.processes.find((p) => p.name === name);
  if (!proc?.binary || !proc.args) throw new PlaneError(`no ${name} recorded in the plane's state`);
  return proc;
}

/**
 * Stops a component (SIGTERM, or SIGKILL with `kill`), keeps it down for
 * downMs, then starts it again as it was and waits until it serves. Resolves
 * with how long it was unavailable, as measured here.
 */
export async function restartComponent(
  name: Component,
  opts: { downMs?: number; kill?: boolean } = {},
): Promise<{ downMs: number }> {
  const proc = component(name);
  const binary = proc.binary ?? "";
  const started = Date.now();
  if (opts.kill) process.kill(proc.pid, "SIGKILL");
  await stopProcess(proc.pid, binary);
  while (isOurs(proc.pid, binary)) await sleep(50);
  await sleep(opts.downMs ?? 0);
  const next = startProcess(name, binary, proc.args ?? [], proc.log);
  const state = readState();
  if (!state) throw new PlaneError("the plane's state disappeared");
  state.processes = state.processes.map((p) => (p.name === name ? next : p));
  writeState(state);
  await waitServing(name);
  return { downMs: Date.now() - started };
}

/** SIGSTOP: the process keeps its sockets but answers nothing, like a hung server. */
export function pauseComponent(name: Component): void {
  process.kill(component(name).pid, "SIGSTOP");
}

export function resumeComponent(name: Component): void {
  process.kill(component(name).pid, "SIGCONT");
}

async function waitServing(name: Component): Promise<void> {
  const state = readState();
  if (!state) return;
  if (name === "kube-apiserver" || name === "etcd") {
    // etcd is serving once the apiserver is ready again (it checks etcd in /readyz).
    await waitFor(`${name} to serve again`, 120_000, async () => {
      const res = await https(`${state.server}/readyz`, adminTls()).catch(() => undefined);
      return res?.status === 200 ? true : undefined;
    });
  }
}
