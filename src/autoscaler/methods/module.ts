// The module method (our addition): calls an exported function of a JS or TS
// module in this process, with the stage's input as an object. No process per
// run, so it suits stages that run often or keep state between runs.
//
// In-process code cannot be killed. At the timeout the run fails and its promise
// is abandoned; the function keeps running unless it honours `options.signal`,
// which is aborted at that moment.
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import type { ModuleConfig } from "../../api/autoscaler-config.ts";
import { MethodError, type RunnerContext, type StageRunner } from "./method.ts";

type StageFunction = (input: unknown, options: { signal: AbortSignal }) => unknown;

export function moduleRunner(config: ModuleConfig, timeoutMs: number, ctx: RunnerContext): StageRunner {
  const path = resolve(ctx.configDir, config.path);
  const exportName = config.export ?? "default";
  const name =
    exportName === "default" ? `the default export of ${path}` : `export "${exportName}" of ${path}`;
  let loading: Promise<StageFunction> | undefined;

  // Loaded on first use, so building the autoscaler has no side effects and a
  // module that imports heavy dependencies costs nothing until it runs.
  const load = (): Promise<StageFunction> => {
    loading ??= loadFunction(path, exportName, name).catch((err: unknown) => {
      loading = undefined; // try again next run: the file may appear or be fixed
      throw err;
    });
    return loading;
  };

  return {
    async run(input, signal) {
      signal?.throwIfAborted();
      const timeout = new AbortController();
      const combined = signal ? AbortSignal.any([timeout.signal, signal]) : timeout.signal;
      const timer = setTimeout(() => {
        timeout.abort(
          new MethodError(
            "timeout",
            `${name} did not finish within ${timeoutMs} ms; it was abandoned but may still be running (it should honour options.signal)`,
          ),
        );
      }, timeoutMs);
      const stopped = new Promise<never>((_, reject) => {
        combined.addEventListener("abort", () => {
          reject(abortReason(combined));
        });
      });
      try {
        const result = await Promise.race([
          load().then((fn) => call(fn, JSON.parse(input), combined, name)),
          stopped,
        ]);
        return toOutput(result, name);
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

async function loadFunction(path: string, exportName: string, name: string): Promise<StageFunction> {
  if (!existsSync(path)) throw new MethodError("module-load", `could not load module ${path}: no such file`);
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(path).href)) as Record<string, unknown>;
  } catch (err) {
    throw new MethodError("module-load", `could not load module ${path}: ${messageOf(err)}`, {}, err);
  }
  const fn = mod[exportName];
  if (typeof fn === "function") return fn as StageFunction;
  const exports = Object.keys(mod);
  const available = exports.length > 0 ? `its exports: ${exports.join(", ")}` : "it exports nothing";
  const problem = fn === undefined ? "does not exist" : `is a ${typeof fn}, not a function`;
  throw new MethodError("module-load", `${name} ${problem} (${available})`);
}

async function call(fn: StageFunction, input: unknown, signal: AbortSignal, name: string): Promise<unknown> {
  try {
    return await fn(input, { signal });
  } catch (err) {
    throw new MethodError("module-threw", `${name} threw: ${messageOf(err)}`, {}, err);
  }
}

/** A string is the output as a script would print it; anything else is sent on as JSON. */
function toOutput(result: unknown, name: string): string {
  if (typeof result === "string") return result;
  try {
    // undefined (a hook that returns nothing) has no JSON form: no output. The
    // lib types claim stringify always returns a string; it does not.
    const json = JSON.stringify(result) as unknown;
    return typeof json === "string" ? json : "";
  } catch (err) {
    throw new MethodError(
      "module-threw",
      `${name} returned a value that is not JSON: ${messageOf(err)}`,
      {},
      err,
    );
  }
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function abortReason(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  return reason instanceof Error ? reason : new Error("the run was aborted", { cause: reason });
}
