// The one interface every way of running user logic implements: shell commands,
// HTTP calls and in-process JS/TS modules. A stage's input is the JSON text the
// original pipes to scripts; its output is the raw text the script printed (or
// the HTTP body), parsed by the caller.
import type { Logger } from "pino";
import type { Spawner } from "./spawn.ts";

export interface StageRunner {
  /** Runs the stage with its JSON input; resolves with its raw output. */
  run(input: string, signal?: AbortSignal): Promise<string>;
  /** Releases what the runner holds (module caches, agents). */
  close?(): Promise<void>;
}

export type MethodErrorCode =
  | "timeout"
  | "exit"
  | "signal"
  | "spawn"
  | "http-status"
  | "http-unreachable"
  | "module-load"
  | "module-threw"
  | "output-too-large";

export interface MethodErrorDetails {
  exitCode?: number;
  signal?: string;
  stderr?: string;
  status?: number;
  body?: string;
}

/** A stage that did not produce output: data, with a stable code, for logs and status. */
export class MethodError extends Error {
  override readonly name = "MethodError";
  readonly code: MethodErrorCode;
  readonly details: MethodErrorDetails;
  constructor(code: MethodErrorCode, message: string, details: MethodErrorDetails = {}, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.code = code;
    this.details = details;
  }
}

export interface RunnerContext {
  /** Relative paths in the method (module paths, TLS files) resolve against this folder. */
  configDir: string;
  log: Logger;
  /** How the shell method starts programs; sharedSpawner (spawn-helper.ts) unless a test picks one. */
  spawner?: Spawner;
}

/** How long a stage may take, and how much it may print. */
export interface RunnerLimits {
  timeoutMs: number;
  maxOutputBytes: number;
}

/** The error of a stage whose output passed maxOutputBytes. */
export function outputTooLarge(what: string, limit: number): MethodError {
  return new MethodError(
    "output-too-large",
    `${what} produced more than ${limit} bytes (maxOutputBytes); the output was not used. ` +
      "Raise maxOutputBytes in this stage's method, or produce less",
  );
}
