// The autoscaler: runs cycles on a schedule aligned to startTime, and on demand
// from the REST API, never two at once; reports each run, and logs and keeps
// its flight record (recorder/).
import { sleep, type Clock } from "../lib/clock.ts";
import type { AutoscalerMetrics } from "../lib/metrics.ts";
import { stateLimit, type Config } from "./config.ts";
import { horizonSeconds, targetKey, toPersisted } from "./durable.ts";
import {
  gatherMetrics,
  KubernetesMetricsError,
  runCycle,
  TargetError,
  type CycleContext,
  type CycleOutcome,
  type CycleState,
} from "./cycle.ts";
import { recordScale, type History } from "./decide/decide.ts";
import { runRecord, type RunRecord, type RunSeen } from "./recorder/record.ts";
import { RecordRing } from "./recorder/ring.ts";
import type { StatusReporter } from "./reporter.ts";
import type { Metric, RunType } from "./stage-types.ts";
import { StageError } from "./stages.ts";
import type { FallbackTaken, RunReport } from "./status.ts";

/** When the first run happens: the next multiple of startTime since the epoch, plus one interval. */
export function firstRunAt(now: number, startTime: number, interval: number): number {
  return Math.ceil(now / startTime) * startTime + interval;
}

/** The next scheduled run after `now`, on the grid of `first + k * interval`. */
export function nextRunAt(now: number, first: number, interval: number): number {
  if (now < first) return first;
  return first + (Math.floor((now - first) / interval) + 1) * interval;
}

/** A REST API run refused because another is already waiting for its turn. */
export class BusyError extends Error {
  override readonly name = "BusyError";
  constructor() {
    super("another run is already waiting for its turn; try again once it has finished");
  }
}

export interface RunOptions {
  /** Refuse (BusyError) rather than queue when a run is already waiting: API requests never pile up. */
  refuseIfQueued?: boolean;
}

export class Autoscaler {
  readonly #ctx: CycleContext;
  readonly #clock: Clock;
  readonly #reporter: StatusReporter | undefined;
  readonly #metrics: AutoscalerMetrics | undefined;
  readonly #state: CycleState;
  readonly #ring: RecordRing;
  /** Runs that failed in a row, for config.fallback. */
  #failedInARow = 0;
  // Runs are serialised: the timer and the API share one decision history and window.
  #running: Promise<unknown> = Promise.resolve();
  /** Runs asked for and not finished: the running one and those queued behind it. */
  #pending = 0;
  #lastRunAt: number | undefined;
  readonly #shutdown = new AbortController();

  constructor(opts: {
    ctx: CycleContext;
    clock: Clock;
    history: History;
    /** The stages' state to start from (config.state), as a previous Pod left it. */
    userState?: unknown;
    reporter?: StatusReporter | undefined;
    metrics?: AutoscalerMetrics | undefined;
    ring?: RecordRing;
  }) {
    this.#ctx = { ...opts.ctx, signal: this.#shutdown.signal };
    this.#clock = opts.clock;
    this.#reporter = opts.reporter;
    this.#metrics = opts.metrics;
    this.#state = { history: opts.history, userState: opts.userState ?? null };
    this.#ring = opts.ring ?? new RecordRing();
    opts.ctx.stages.observe(({ stage, seconds, error }) => {
      opts.metrics?.stageDuration.observe({ stage }, seconds);
      if (error) opts.metrics?.failures.inc({ stage });
    });
  }

  get config(): Config {
    return this.#ctx.config;
  }

  /** The latest runs' flight records (GET /api/v1/history). */
  get records(): RecordRing {
    return this.#ring;
  }

  /** When the last run finished (for /healthz). */
  get lastRunAt(): number | undefined {
    return this.#lastRunAt;
  }

  #serial<T>(fn: () => Promise<T>, opts: RunOptions = {}): Promise<T> {
    if (opts.refuseIfQueued && this.#pending > 1) return Promise.reject(new BusyError());
    this.#pending++;
    const guarded = (): Promise<T> => {
      this.#shutdown.signal.throwIfAborted();
      return fn();
    };
    const run = this.#running.then(guarded, guarded).finally(() => {
      this.#pending--;
    });
    this.#running = run.catch(() => undefined);
    return run;
  }

  /**
   * Stops for shutdown: the running stage is told (a shell stage's process
   * group is killed), no /scale write follows, and queued runs are refused.
   * Resolves once nothing runs any more.
   */
  async stop(): Promise<void> {
    this.#shutdown.abort(new Error("the autoscaler is shutting down"));
    await this.#running;
  }

  /** One full run; failures are logged, reported and rethrown. Each run is recorded, failed or not. */
  run(runType: RunType, dryRun = false, opts: RunOptions = {}): Promise<CycleOutcome> {
    return this.#serial(async () => {
      const started = performance.now();
      const seen: RunSeen = {};
      try {
        const outcome = await runCycle(this.#ctx, this.#state, runType, dryRun, seen);
        this.#metrics?.runs.inc({ result: "success", run_type: runType });
        this.#metrics?.replicas.set({ kind: "current" }, outcome.target.current);
        if (outcome.shadow)
          this.#metrics?.shadowDivergence.set(outcome.decision.replicas - outcome.target.current);
        this.#logRun(this.#record(runType, dryRun, seen, started));
        if (!dryRun) {
          this.#endFallback();
          this.#metrics?.replicas.set({ kind: "desired" }, outcome.decision.replicas);
          const disabled = outcome.target.current === 0 && this.config.minReplicas !== 0;
          await this.#report({ outcome, disabled });
        }
        return outcome;
      } catch (err) {
        this.#metrics?.runs.inc({ result: "failure", run_type: runType });
        const fallback = dryRun ? undefined : await this.#fallBack(err);
        this.#logFailure(err, runType, this.#record(runType, dryRun, seen, started, err, fallback));
        if (!dryRun && err instanceof Error)
          await this.#report({
            failure: { step: stepOf(err), error: err },
            ...(fallback ? { fallback } : {}),
          });
        throw err;
      } finally {
        this.#metrics?.runDuration.observe((performance.now() - started) / 1000);
        this.#lastRunAt = this.#clock.now();
      }
    }, opts);
  }

  /**
   * config.fallback: counts the runs that failed in a row for want of a
   * replica count (a stage before the scale, a required Kubernetes metric),
   * and from failureThreshold on sets the target to fallback.replicas, clamped
   * to min/max. Neither the stabilisation window nor behavior policies hold it:
   * both are made to damp noisy metrics, and here there are none to damp. A
   * shadow computes it and writes nothing; a target at 0 with minReplicas
   * above 0 (autoscaling disabled) is left alone.
   */
  async #fallBack(err: unknown): Promise<FallbackTaken | undefined> {
    if (!countsForFallback(err)) return undefined;
    this.#failedInARow++;
    const fallback = this.config.fallback;
    if (!fallback || this.#failedInARow < fallback.failureThreshold) return undefined;
    const { minReplicas, maxReplicas } = this.config;
    const replicas = Math.min(Math.max(fallback.replicas, minReplicas), maxReplicas);
    const target = await this.#ctx.target.read().catch((e: unknown) => {
      this.#ctx.log.error({ err: String(e) }, "Fallback: could not read the target; it is left as it is");
      return undefined;
    });
    if (!target || (target.current === 0 && minReplicas !== 0)) return undefined;
    const taken = { failedRuns: this.#failedInARow, replicas, current: target.current, scaled: false };
    this.#metrics?.fallbackActive.set(1);
    if (target.current === replicas || this.#ctx.shadow || this.#shutdown.signal.aborted) return taken;
    try {
      await this.#ctx.target.scale(target.resource, replicas);
    } catch (e) {
      this.#ctx.log.error({ err: String(e) }, `Fallback: could not scale the target to ${replicas}`);
      return taken;
    }
    this.#state.history = recordScale(this.#state.history, this.#clock.now(), target.current, replicas);
    return { ...taken, scaled: true };
  }

  /** A good run ends a fallback: decisions are the usual ones again. */
  #endFallback(): void {
    if (this.#failedInARow >= (this.config.fallback?.failureThreshold ?? Number.POSITIVE_INFINITY))
      this.#ctx.log.info({ failedRuns: this.#failedInARow }, "Fallback ended: runs succeed again");
    this.#failedInARow = 0;
    this.#metrics?.fallbackActive.set(0);
  }

  #record(
    runType: RunType,
    dryRun: boolean,
    seen: RunSeen,
    started: number,
    err?: unknown,
    fallback?: FallbackTaken,
  ): RunRecord {
    const { config } = this;
    const record = runRecord({
      // The decision's own time, so a replay keeps the windows exactly as the run did.
      at: seen.decidedAt ?? this.#clock.now(),
      runType,
      dryRun,
      ...(this.#ctx.shadow ? { shadow: true } : {}),
      target: { ...config.scaleTargetRef, namespace: config.namespace },
      runMode: config.runMode,
      seen,
      ...(err === undefined ? {} : { failure: failureOf(err) }),
      ...(fallback ? { fallback } : {}),
      durationMs: performance.now() - started,
    });
    this.#ring.add(record);
    return record;
  }

  /** The run's one log line: its record, with a message people read. */
  #logRun(record: RunRecord): void {
    const d = record.decision;
    const ref = this.config.scaleTargetRef;
    const what = `${ref.kind}/${ref.name} to ${d?.replicas ?? 0}`;
    let message = "Evaluated";
    if (d?.scale && record.shadow && !record.dryRun)
      message = `Would scale ${what} (shadow: /scale is never written)`;
    else if (d?.scale && !record.dryRun) message = `Scaling ${what}`;
    this.#ctx.log.info({ record }, message);
  }

  /** Only the metric stage (the REST API's GET /api/v1/metrics); never scales. */
  metrics(runType: RunType, opts: RunOptions = {}): Promise<Metric[] | null> {
    return this.#serial(async () => {
      const target = await this.#ctx.target.read();
      return gatherMetrics(this.#ctx, target, runType, this.#state);
    }, opts);
  }

  /** Runs on the schedule until the signal aborts. A failed run is logged; the loop goes on. */
  async loop(signal: AbortSignal): Promise<void> {
    const { interval, startTime } = this.config;
    const first = firstRunAt(this.#clock.now(), startTime, interval);
    this.#ctx.log.info(
      { firstRun: new Date(first).toISOString(), intervalMs: interval },
      "Autoscaler started",
    );
    const stopped = (): boolean => signal.aborted;
    let next = first;
    while (!stopped()) {
      await sleep(this.#clock, Math.max(0, next - this.#clock.now()), signal);
      if (stopped()) break;
      await this.run("scaler").catch(() => undefined);
      next = nextRunAt(this.#clock.now(), first, interval);
    }
  }

  async #report(report: RunReport): Promise<void> {
    if (!this.#reporter) return;
    const now = this.#clock.now();
    const history = toPersisted({
      durable: { history: this.#state.history, userState: this.#state.userState ?? null },
      target: targetKey(this.config.scaleTargetRef),
      horizon: horizonSeconds(this.config),
      now,
      stateEnabled: stateLimit(this.config) !== undefined,
    });
    await this.#reporter.report({ ...report, history }, new Date(now));
  }

  #logFailure(err: unknown, runType: RunType, record: RunRecord): void {
    const log = this.#ctx.log;
    if (err instanceof StageError) {
      log.error(
        { runType, stage: err.stage, ...err.details, record },
        `Run failed; the target is left as it is: ${err.message}`,
      );
    } else if (err instanceof TargetError) {
      log.error({ runType, stage: err.step, record }, `Run failed: ${err.message}`);
    } else {
      log.error({ runType, err: err instanceof Error ? err.message : String(err), record }, "Run failed");
    }
  }
}

/** The failures a fallback counts: no replica count came of the run. Not reading or writing /scale. */
function countsForFallback(err: unknown): boolean {
  if (err instanceof KubernetesMetricsError) return true;
  return err instanceof StageError && err.stage !== "preScale" && err.stage !== "postScale";
}

function failureOf(err: unknown): NonNullable<RunRecord["failure"]> {
  const message = err instanceof Error ? err.message : String(err);
  if (err instanceof StageError) return { step: "stage", stage: err.stage, message };
  if (err instanceof TargetError) return { step: err.step, message };
  return { step: "other", message };
}

function stepOf(err: Error): "read-target" | "update-scale" | "stage" {
  return err instanceof TargetError ? err.step : "stage";
}
