// Runs the user's stages: the JSON in, the raw output back, timed and logged,
// and failures wrapped so the log says which stage failed and how.
import type { Logger } from "pino";
import { MethodError, type StageRunner } from "./methods/method.ts";

export const STAGES = [
  "preMetric",
  "metric",
  "postMetric",
  "preEvaluate",
  "evaluate",
  "postEvaluate",
  "preScale",
  "postScale",
] as const;
export type StageName = (typeof STAGES)[number];

/** A stage that failed, or whose output could not be used. */
export class StageError extends Error {
  override readonly name = "StageError";
  readonly stage: StageName;
  constructor(stage: StageName, message: string, cause?: unknown) {
    super(`${stage} failed: ${message}`, cause === undefined ? undefined : { cause });
    this.stage = stage;
  }

  /** Details for the log: exit code, HTTP status, stderr or body. */
  get details(): Record<string, unknown> {
    return this.cause instanceof MethodError ? { code: this.cause.code, ...this.cause.details } : {};
  }
}

/** Called for each stage run; `cpa run` prints these. */
export type StageObserver = (event: {
  stage: StageName;
  input: string;
  output?: string;
  error?: StageError;
  seconds: number;
}) => void;

export class Stages {
  readonly #runners: Partial<Record<StageName, StageRunner>>;
  readonly #log: Logger;
  readonly #observers: StageObserver[] = [];

  constructor(runners: Partial<Record<StageName, StageRunner>>, log: Logger) {
    this.#runners = runners;
    this.#log = log;
  }

  has(stage: StageName): boolean {
    return this.#runners[stage] !== undefined;
  }

  observe(observer: StageObserver): void {
    this.#observers.push(observer);
  }

  /** Runs a stage; a hook that is not configured is skipped (returns undefined). */
  async run(stage: StageName, input: unknown, signal?: AbortSignal): Promise<string | undefined> {
    const runner = this.#runners[stage];
    if (!runner) return undefined;
    const text = JSON.stringify(input);
    const started = performance.now();
    try {
      const output = await runner.run(text, signal);
      const seconds = (performance.now() - started) / 1000;
      this.#log.debug({ stage, seconds, output: output.slice(0, 2000) }, `Ran ${stage}`);
      for (const o of this.#observers) o({ stage, input: text, output, seconds });
      return output;
    } catch (err) {
      const error = new StageError(stage, err instanceof Error ? err.message : String(err), err);
      const seconds = (performance.now() - started) / 1000;
      for (const o of this.#observers) o({ stage, input: text, error, seconds });
      throw error;
    }
  }

  async close(): Promise<void> {
    await Promise.all(Object.values(this.#runners).map(async (r) => r.close?.()));
  }
}
