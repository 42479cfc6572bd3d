// What a replay comes to, side by side with what was recorded: scale events,
// replicas (min, max, mean over runs), replica-minutes, and how often and how
// far the replay decided differently. Pure, and printed the same every time
// for the same steps (the determinism test compares the bytes).
import type { Step } from "./simulate.ts";

export interface SeriesSummary {
  scaleEvents: number;
  min: number;
  max: number;
  /** Mean of the replicas after each run. */
  mean: number;
  /** The replicas held over time, from the first run to the last: sum of replicas × minutes to the next run. */
  replicaMinutes: number;
  failures: number;
}

export interface Summary {
  runs: number;
  from?: string;
  to?: string;
  replayed: SeriesSummary;
  /** Absent for a synthetic load (no recording). */
  recorded?: SeriesSummary;
  /** Runs whose replayed replicas differ from the recorded ones. */
  differing?: { runs: number; largest: number; mean: number };
  /** Records that hold less than their run saw (record.ts caps). */
  cutRecords: number;
}

function series(
  steps: readonly Step[],
  pick: (s: Step) => { replicas: number; scaled: boolean; failed?: string },
): SeriesSummary {
  const values = steps.map(pick);
  const replicas = values.map((v) => v.replicas);
  let replicaMinutes = 0;
  for (let i = 0; i + 1 < steps.length; i++) {
    const a = Date.parse(steps[i]?.time ?? "");
    const b = Date.parse(steps[i + 1]?.time ?? "");
    replicaMinutes += (replicas[i] ?? 0) * ((b - a) / 60_000);
  }
  return {
    scaleEvents: values.filter((v) => v.scaled).length,
    min: replicas.length > 0 ? Math.min(...replicas) : 0,
    max: replicas.length > 0 ? Math.max(...replicas) : 0,
    mean: replicas.length > 0 ? replicas.reduce((a, b) => a + b, 0) / replicas.length : 0,
    replicaMinutes,
    failures: values.filter((v) => v.failed !== undefined).length,
  };
}

export function summarize(steps: readonly Step[]): Summary {
  const recorded = steps.every((s) => s.recorded !== undefined) && steps.length > 0;
  const differences = recorded
    ? steps.map((s) => Math.abs(s.replayed.replicas - (s.recorded?.replicas ?? 0))).filter((d) => d > 0)
    : [];
  return {
    runs: steps.length,
    ...(steps[0] ? { from: steps[0].time } : {}),
    ...(steps.at(-1) ? { to: steps.at(-1)?.time ?? "" } : {}),
    replayed: series(steps, (s) => s.replayed),
    ...(recorded
      ? {
          recorded: series(steps, (s) => s.recorded ?? { replicas: 0, scaled: false }),
          differing: {
            runs: differences.length,
            largest: differences.length > 0 ? Math.max(...differences) : 0,
            mean: steps.length > 0 ? differences.reduce((a, b) => a + b, 0) / steps.length : 0,
          },
        }
      : {}),
    cutRecords: steps.filter((s) => s.recorded?.cut).length,
  };
}

const fixed = (n: number, digits = 2): string => (Number.isInteger(n) ? String(n) : n.toFixed(digits));

function duration(from: string, to: string): string {
  const minutes = Math.round((Date.parse(to) - Date.parse(from)) / 60_000);
  const h = Math.floor(minutes / 60);
  return h > 0 ? `${h} h ${minutes % 60} min` : `${minutes} min`;
}

/** The summary as the terminal shows it. */
export function formatSummary(summary: Summary, what: string): string {
  const lines: string[] = [];
  const span =
    summary.from && summary.to
      ? ` from ${summary.from} to ${summary.to} (${duration(summary.from, summary.to)})`
      : "";
  lines.push(`Replayed ${summary.runs} runs of ${what}${span}`);
  const rows: [string, (s: SeriesSummary) => string][] = [
    ["scale events", (s) => String(s.scaleEvents)],
    ["replicas min", (s) => String(s.min)],
    ["replicas max", (s) => String(s.max)],
    ["replicas mean", (s) => fixed(s.mean)],
    ["replica-minutes", (s) => fixed(s.replicaMinutes, 1)],
    ["failed runs", (s) => String(s.failures)],
  ];
  const rec = summary.recorded;
  const width = Math.max(...rows.map(([label]) => label.length)) + 2;
  lines.push(`${"".padEnd(width)}${rec ? "recorded".padEnd(10) : ""}replayed`);
  for (const [label, value] of rows)
    lines.push(`${label.padEnd(width)}${rec ? value(rec).padEnd(10) : ""}${value(summary.replayed)}`);
  const d = summary.differing;
  if (d) {
    const share = summary.runs > 0 ? ((d.runs / summary.runs) * 100).toFixed(1) : "0.0";
    lines.push(
      d.runs === 0
        ? `Every run decided as recorded.`
        : `${d.runs} of ${summary.runs} runs (${share}%) decided differently; largest difference ${d.largest} replicas, mean ${fixed(d.mean)} per run.`,
    );
  } else lines.push("A synthetic load: nothing recorded to compare with.");
  if (summary.cutRecords > 0)
    lines.push(
      `${summary.cutRecords} records hold less than their run saw (inputs cut to the recorder's caps): their replays may differ.`,
    );
  return `${lines.join("\n")}\n`;
}
