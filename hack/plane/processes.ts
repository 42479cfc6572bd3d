import { spawn } from "node:child_process";
import { closeSync, existsSync, openSync, readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";

export interface StartedProcess {
  name: string;
  pid: number;
  log: string;
  /** How it was started, so a fault test can restart it exactly so. */
  binary?: string;
  args?: string[];
}

/** Exit codes of processes this very process started and saw die, by name. */
const exits = new Map<string, string>();

/**
 * Starts a component detached from this process, so it outlives `npm run cluster:up`,
 * with stdout and stderr appended to its log file.
 */
export function startProcess(name: string, binary: string, args: string[], log: string): StartedProcess {
  const fd = openSync(log, "a");
  try {
    const child = spawn(binary, args, { detached: true, stdio: ["ignore", fd, fd] });
    child.on("exit", (code, signal) => exits.set(name, signal ?? `exit code ${code ?? "?"}`));
    child.unref();
    if (child.pid === undefined) throw new Error(`could not start ${name} (${binary})`);
    return { name, pid: child.pid, log, binary, args };
  } finally {
    closeSync(fd);
  }
}

/** How a process started here ended, if it did. */
export function exitOf(name: string): string | undefined {
  return exits.get(name);
}

/**
 * True when pid is a live process running `binary`. Checking the command line
 * guards against pid reuse: `cluster:down` must never signal a stranger.
 */
export function isOurs(pid: number, binary: string): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The state follows the parenthesised command name; Z is a zombie, X dead.
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    if (state === "Z" || state === "X") return false;
    const argv0 = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0")[0];
    return argv0 === binary;
  } catch {
    return false;
  }
}

/** SIGTERM, then SIGKILL after the grace period; resolves once the process is gone. */
export async function stopProcess(pid: number, binary: string, graceMs = 10_000): Promise<void> {
  if (!isOurs(pid, binary)) return;
  signal(pid, "SIGTERM");
  const deadline = Date.now() + graceMs;
  while (isOurs(pid, binary)) {
    if (Date.now() > deadline) {
      signal(pid, "SIGKILL");
      await sleep(200);
      return;
    }
    await sleep(100);
  }
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

export function tail(file: string, lines = 30): string {
  if (!existsSync(file)) return "(no log)";
  return readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
}
