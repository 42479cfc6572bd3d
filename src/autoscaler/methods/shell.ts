// The shell method: runs a program with the stage's JSON on stdin and takes what
// it prints on stdout, as the original runtime does. No shell is implied: the
// entrypoint is executed directly with `command` as its arguments.
import type { ShellConfig } from "../../api/autoscaler-config.ts";
import {
  MethodError,
  outputTooLarge,
  type RunnerContext,
  type RunnerLimits,
  type StageRunner,
} from "./method.ts";
import type { SpawnExit } from "./spawn.ts";
import { sharedSpawner } from "./spawn-helper.ts";

/** stderr is kept to its last bytes: it goes into messages and logs, never into a stage. */
const MAX_STDERR_BYTES = 64 * 1024;
/** How much of stderr goes into an error message; the full capture is in the details. */
const MESSAGE_STDERR_CHARS = 1000;

export function shellRunner(
  config: ShellConfig,
  limits: RunnerLimits,
  logStderr: boolean,
  ctx: RunnerContext,
): StageRunner {
  const { timeoutMs, maxOutputBytes } = limits;
  const [entrypoint, args] = commandLine(config);
  const name = [entrypoint, ...args].join(" ");
  const spawner = ctx.spawner ?? sharedSpawner;

  return {
    run(input, signal) {
      return new Promise<string>((resolve, reject) => {
        if (signal?.aborted) {
          reject(abortReason(signal));
          return;
        }
        const stdout = capture(maxOutputBytes, () => {
          // Past the limit the output is useless: stop the command now rather than read on.
          child.kill();
          fail(outputTooLarge(name, maxOutputBytes));
        });
        const stderr = capture(MAX_STDERR_BYTES);

        const timer = setTimeout(() => {
          child.kill();
          fail(new MethodError("timeout", `${name} did not finish within ${timeoutMs} ms and was killed`));
        }, timeoutMs);
        signal?.addEventListener("abort", onAbort, { once: true });

        function onAbort(): void {
          child.kill();
          fail(abortReason(signal));
        }
        function cleanUp(): void {
          clearTimeout(timer);
          signal?.removeEventListener("abort", onAbort);
        }
        function fail(err: Error): void {
          cleanUp();
          reject(err);
        }
        function onExit({ code, signal: killedBy }: SpawnExit): void {
          const err = stderr.text();
          if (stdout.overflowed) return;
          if (code === 0) {
            cleanUp();
            if (logStderr && err !== "") ctx.log.info({ command: name, stderr: err }, "Shell command stderr");
            resolve(stdout.text());
          } else if (code !== null) {
            fail(
              new MethodError("exit", `${name} exited with code ${code}${excerpt(err)}`, {
                exitCode: code,
                stderr: err,
              }),
            );
          } else {
            const sig = killedBy ?? "a signal";
            fail(
              new MethodError("signal", `${name} was killed by ${sig}${excerpt(err)}`, {
                signal: sig,
                stderr: err,
              }),
            );
          }
        }

        // The spawner puts the program in a process group of its own, so a kill
        // (timeout, abort, too much output) ends everything it started too.
        const child = spawner.spawn(entrypoint, args, input, {
          stdout: stdout.push,
          stderr: stderr.push,
          exit: onExit,
          error(err) {
            fail(new MethodError("spawn", `could not run ${entrypoint}: ${spawnReason(err)}`, {}, err));
          },
        });
      });
    },
  };
}

/** The current form is {entrypoint, command}; an older guide used one string, split on spaces. */
function commandLine(config: ShellConfig): [string, string[]] {
  if (typeof config !== "string") return [config.entrypoint, config.command ?? []];
  const [entrypoint = "", ...args] = config.trim().split(/\s+/);
  return [entrypoint, args];
}

/**
 * Collects output up to limit bytes. With onOverflow, passing the limit calls
 * it once (the stage fails); without, only the first limit bytes are kept.
 */
function capture(
  limit: number,
  onOverflow?: () => void,
): { push: (chunk: Buffer) => void; text: () => string; readonly overflowed: boolean } {
  const chunks: Buffer[] = [];
  let size = 0;
  let overflowed = false;
  return {
    push: (chunk: Buffer) => {
      if (overflowed) return;
      const room = limit - size;
      if (chunk.length > room) {
        overflowed = true;
        if (onOverflow) {
          chunks.length = 0;
          onOverflow();
          return;
        }
      }
      const kept = chunk.length > room ? chunk.subarray(0, Math.max(0, room)) : chunk;
      chunks.push(kept);
      size += kept.length;
    },
    text: () => Buffer.concat(chunks).toString("utf8"),
    get overflowed() {
      return overflowed;
    },
  };
}

/** The end of stderr is where interpreters put the actual error (a traceback's last line). */
function excerpt(stderr: string): string {
  const text = stderr.trim();
  if (text === "") return " (no stderr)";
  return `: ${text.length > MESSAGE_STDERR_CHARS ? `…${text.slice(-MESSAGE_STDERR_CHARS)}` : text}`;
}

function spawnReason(err: NodeJS.ErrnoException): string {
  switch (err.code) {
    case "ENOENT":
      return "no such program (not found on PATH, or the file does not exist)";
    case "EACCES":
      return "permission denied (is it executable?)";
    default:
      return err.message;
  }
}

/** Aborting rejects with the signal's reason, as fetch and child_process do. */
function abortReason(signal: AbortSignal | undefined): Error {
  const reason: unknown = signal?.reason;
  return reason instanceof Error ? reason : new Error("the run was aborted", { cause: reason });
}
