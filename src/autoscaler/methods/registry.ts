// One place that maps a method's `type` to the runner that carries it out.
import {
  DEFAULT_MAX_OUTPUT_BYTES,
  DEFAULT_METHOD_TIMEOUT_MS,
  type Method,
} from "../../api/autoscaler-config.ts";
import { httpRunner } from "./http.ts";
import type { RunnerContext, StageRunner } from "./method.ts";
import { moduleRunner } from "./module.ts";
import { shellRunner } from "./shell.ts";

export function createRunner(method: Method, ctx: RunnerContext): StageRunner {
  const timeout = method.timeout ?? DEFAULT_METHOD_TIMEOUT_MS;
  const maxOutputBytes = method.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES;
  switch (method.type) {
    case "shell": {
      const shell = block(method, "shell");
      // shell.logStderr is where the original reads it; the method-level key is ours, and loses.
      const logStderr =
        (typeof shell === "object" ? shell.logStderr : undefined) ?? method.logStderr ?? false;
      return shellRunner(shell, { timeoutMs: timeout, maxOutputBytes }, logStderr, ctx);
    }
    case "http":
      return httpRunner(block(method, "http"), { timeoutMs: timeout, maxOutputBytes }, ctx);
    case "module":
      return moduleRunner(block(method, "module"), timeout, ctx);
  }
}

/** The schema cannot tie `type` to its block, so a missing block is caught here. */
function block<K extends Method["type"]>(method: Method, key: K): NonNullable<Method[K]> {
  const value = method[key];
  if (value === undefined) throw new Error(`type is "${method.type}" but the "${key}" block is missing`);
  return value;
}
