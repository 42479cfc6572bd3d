// How the shell method starts a program. The shell runner keeps the policy
// (timeouts, output limits, error messages); a Spawner only starts one program
// in a process group of its own, feeds it its input, passes on what it prints
// and can kill the group. directSpawner does it with child_process.spawn;
// spawn-helper.ts does it through a resident helper process, so that Node's
// main thread does not pay for a fork per run.
import { spawn } from "node:child_process";

/** How a program ended: an exit code, or the name of the signal that killed it (as child_process reports). */
export interface SpawnExit {
  code: number | null;
  signal: string | null;
}

/**
 * What a run reports, never from within spawn() itself (so a caller may use the
 * run it gets back in them). Exactly one of exit and error is called, once; no
 * output comes after it.
 */
export interface SpawnHandlers {
  stdout(chunk: Buffer): void;
  stderr(chunk: Buffer): void;
  /** The program ended and its stdout and stderr were closed (child_process's "close"). */
  exit(result: SpawnExit): void;
  /**
   * The program could not be started, or its run was lost. err.code is the
   * errno name (ENOENT, EACCES, ...) when there is one.
   */
  error(err: NodeJS.ErrnoException): void;
}

export interface SpawnedRun {
  /** SIGKILLs the run's whole process group; does nothing once the run has ended. */
  kill(): void;
}

export interface Spawner {
  /** Starts entrypoint (looked up on PATH) with args, input on its stdin, in a process group of its own. */
  spawn(entrypoint: string, args: readonly string[], input: string, handlers: SpawnHandlers): SpawnedRun;
}

/** child_process.spawn on Node's own thread: a fork of the whole Node process per run. */
export const directSpawner: Spawner = {
  spawn(entrypoint, args, input, handlers) {
    // detached puts the child in a process group of its own, so a kill reaches
    // everything it started too, not just the direct child.
    const child = spawn(entrypoint, args, { detached: true, stdio: ["pipe", "pipe", "pipe"] });
    let ended = false;
    child.stdout.on("data", (chunk: Buffer) => {
      if (!ended) handlers.stdout(chunk);
    });
    child.stderr.on("data", (chunk: Buffer) => {
      if (!ended) handlers.stderr(chunk);
    });
    // A failed spawn emits "error" and then "close" with a negative code: only the error counts.
    child.on("error", (err: NodeJS.ErrnoException) => {
      if (ended) return;
      ended = true;
      handlers.error(err);
    });
    child.on("close", (code: number | null, signal: NodeJS.Signals | null) => {
      if (ended) return;
      ended = true;
      handlers.exit({ code, signal });
    });
    // A program that never reads stdin closes the pipe before we finish writing
    // (EPIPE); that is fine on its own, and its exit status tells the rest.
    child.stdin.on("error", () => undefined);
    child.stdin.end(input);
    return {
      kill() {
        if (ended || child.pid === undefined) return;
        killGroup(child.pid);
      },
    };
  },
};

/** SIGKILLs process group pgid; a group that is already gone (ESRCH) is fine. */
export function killGroup(pgid: number): void {
  try {
    process.kill(-pgid, "SIGKILL");
  } catch {
    // ESRCH: the group is already gone.
  }
}
