// `cpa replay --config config.yaml --trace trace.jsonl [--out chart.svg|chart.png]`:
// what the logic in config.yaml would have decided over recorded runs (or a
// synthetic CSV load), on a simulated clock, with a summary and a chart.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { extname, resolve } from "node:path";
import { parseArgs } from "node:util";
import { buildStages } from "../autoscaler/assemble.ts";
import { ConfigError, loadConfig, stateLimit, type Config } from "../autoscaler/config.ts";
import { parseEvaluation } from "../autoscaler/cycle.ts";
import { parseRecords } from "../autoscaler/recorder/parse.ts";
import type { RunRecord } from "../autoscaler/recorder/record.ts";
import type { EvaluateInput } from "../autoscaler/stage-types.ts";
import { createLogger } from "../lib/log.ts";
import {
  chartData,
  chartSpec,
  ChartUnavailableError,
  renderPng,
  renderSvg,
  textChart,
} from "../replay/chart.ts";
import { CsvError, parseCsv } from "../replay/csv.ts";
import { replay, replayable, type ReplayRun, type Step } from "../replay/simulate.ts";
import { formatSummary, summarize } from "../replay/summary.ts";
import { parsePositiveInt, UsageError } from "./flags.ts";
import { processIo, type Io } from "./io.ts";
import { rootConfig } from "./run-root.ts";

export type ReplayIo = Io;

function parse(args: string[]) {
  try {
    return parseArgs({
      args,
      strict: true,
      options: {
        config: { type: "string", default: "config.yaml" },
        trace: { type: "string" },
        csv: { type: "string" },
        out: { type: "string", short: "o" },
        format: { type: "string", default: "text" },
        root: { type: "string" },
        hooks: { type: "boolean", default: false },
        replicas: { type: "string" },
        "log-level": { type: "string", default: "warn" },
      },
    }).values;
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
}

type Target = RunRecord["target"];

/** The one target a trace's records are about; a trace mixing targets is refused. */
function traceTarget(records: readonly RunRecord[], file: string): Target | undefined {
  const key = (t: Target): string => `${t.kind}/${t.name} in ${t.namespace}`;
  const targets = [...new Set(records.map((r) => key(r.target)))];
  if (targets.length > 1)
    throw new UsageError(`${file} holds runs of ${targets.join(", ")}: replay one target at a time`);
  return records[0]?.target;
}

/**
 * The config as the autoscaler would load it, with the trace's target and
 * namespace filled in where the file leaves them to the operator.
 */
function replayConfig(path: string, target: Target | undefined): Config {
  const env: NodeJS.ProcessEnv = { ...process.env };
  const t = target ?? { kind: "Deployment", name: "target", namespace: "default" };
  env["scaleTargetRef"] ??= JSON.stringify({
    kind: t.kind,
    name: t.name,
    ...(t.apiVersion ? { apiVersion: t.apiVersion } : {}),
  });
  env["namespace"] ??= t.namespace;
  return loadConfig(env, path).config;
}

function readText(flag: string, file: string): string {
  if (!existsSync(file)) throw new UsageError(`${flag}: ${file} does not exist`);
  return readFileSync(file, "utf8");
}

type Values = ReturnType<typeof parse>;

/** The flags that must agree with each other, checked before anything runs. */
function checkFlags(values: Values): { outExt?: string; startReplicas?: number } {
  if ((values.trace === undefined) === (values.csv === undefined))
    throw new UsageError(
      "give the runs to replay: --trace FILE (from cpa record or a log export) or --csv FILE",
    );
  if (!["text", "json"].includes(values.format))
    throw new UsageError(`--format: "${values.format}" is not text or json`);
  const outExt = values.out === undefined ? undefined : extname(values.out).toLowerCase();
  if (outExt !== undefined && ![".svg", ".png"].includes(outExt))
    throw new UsageError(`--out: ${values.out ?? ""} must end in .svg or .png`);
  return {
    ...(outExt !== undefined ? { outExt } : {}),
    ...(values.replicas !== undefined
      ? { startReplicas: parsePositiveInt("--replicas", values.replicas) }
      : {}),
  };
}

/** The config (with --root applied) and the runs to replay; a message and no runs when they cannot be had. */
function load(values: Values, io: ReplayIo): { config: Config; runs: ReplayRun[] } | undefined {
  let records: RunRecord[] = [];
  if (values.trace !== undefined) {
    const parsed = parseRecords(readText("--trace", values.trace).split("\n"));
    records = parsed.records;
    if (parsed.unknownVersion > 0)
      io.err(`${values.trace}: ${parsed.unknownVersion} records of a newer format were left out\n`);
  }
  let config: Config;
  try {
    config = replayConfig(values.config, traceTarget(records, values.trace ?? ""));
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    io.err(`${values.config}: ${err.message}\n`);
    return undefined;
  }
  if (values.root !== undefined) {
    const root = resolve(values.root);
    if (!existsSync(root)) throw new UsageError(`--root: ${values.root} does not exist`);
    ({ config } = rootConfig(config, root, existsSync));
  }
  try {
    const runs =
      values.csv !== undefined
        ? parseCsv(readText("--csv", values.csv), values.csv, {
            ...config.scaleTargetRef,
            namespace: config.namespace,
          })
        : replayable(records);
    if (runs.length > 0) return { config, runs };
    io.err(
      `${values.trace ?? values.csv ?? ""}: no runs to replay (a run is replayed when it got its metrics and was not a dry run)\n`,
    );
    return undefined;
  } catch (err) {
    if (!(err instanceof CsvError)) throw err;
    io.err(`${err.message}\n`);
    return undefined;
  }
}

/** The replay itself: the config's evaluate stage (and with --hooks its own hooks) over the runs. */
async function replayWith(
  config: Config,
  runs: ReplayRun[],
  values: Values,
  startReplicas?: number,
): Promise<Step[]> {
  const log = createLogger("cpa-replay", values["log-level"]);
  const stages = buildStages(config, log);
  // Hooks other than the evaluate stage's own do not run: a replay must not act on the world.
  const evaluate = async (input: EvaluateInput) => {
    if (values.hooks) await stages.run("preEvaluate", input);
    const evaluation = parseEvaluation((await stages.run("evaluate", input)) ?? "", stateLimit(config));
    if (values.hooks) await stages.run("postEvaluate", { ...input, evaluation });
    return evaluation;
  };
  try {
    return await replay({
      runs,
      config,
      evaluate,
      ...(startReplicas !== undefined ? { startReplicas } : {}),
      ...(stateLimit(config) === undefined ? {} : { state: true }),
    });
  } finally {
    await stages.close();
  }
}

export async function runReplay(args: string[], io: ReplayIo = processIo): Promise<number> {
  const values = parse(args);
  const { outExt, startReplicas } = checkFlags(values);
  const loaded = load(values, io);
  if (!loaded) return 1;
  const { config, runs } = loaded;
  const steps = await replayWith(config, runs, values, startReplicas);
  const summary = summarize(steps);
  const ref = config.scaleTargetRef;
  const what = `${ref.kind}/${ref.name} in ${config.namespace}`;
  if (values.format === "json") io.out(`${JSON.stringify({ summary, steps }, null, 2)}\n`);
  else io.out(formatSummary(summary, what) + (values.out === undefined ? `\n${textChart(steps)}` : ""));
  if (values.out === undefined) return 0;
  try {
    const svg = await renderSvg(chartSpec(chartData(steps), `Replay of ${what}`));
    writeFileSync(values.out, outExt === ".png" ? await renderPng(svg) : svg);
  } catch (err) {
    if (!(err instanceof ChartUnavailableError)) throw err;
    io.err(`cpa replay: ${err.message}\n`);
    return 1;
  }
  io.err(`Wrote the chart to ${values.out}\n`);
  return 0;
}
