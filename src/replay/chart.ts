// The replay's picture: the metrics over time above, the recorded and the
// replayed replicas below, with each replayed scale event marked. A Vega-Lite
// spec (pure), rendered headless to SVG by Vega and to PNG by resvg with the
// DejaVu Sans font from npm, so text renders the same on every machine. Those
// libraries are the workstation's (devDependencies, never in the image) and
// load only here, only when a chart file is asked for.
import { createRequire } from "node:module";
import type { Step } from "./simulate.ts";

/** Series drawn at most; the rest are named in the chart's subtitle. */
export const MAX_METRIC_SERIES = 8;
export const CHART_FONT = "DejaVu Sans";

/**
 * A metric's numbers: the value itself when it is a number, or each numeric
 * field of a JSON object (`name.field`). Other values draw nothing. Pure.
 */
export function metricNumbers(resource: string, value: string | undefined): [string, number][] {
  if (value === undefined) return [];
  const trimmed = value.trim();
  if (trimmed !== "" && Number.isFinite(Number(trimmed))) return [[resource, Number(trimmed)]];
  let parsed: unknown;
  try {
    parsed = JSON.parse(trimmed);
  } catch {
    return [];
  }
  if (typeof parsed === "number" && Number.isFinite(parsed)) return [[resource, parsed]];
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) return [];
  return Object.entries(parsed as Record<string, unknown>).flatMap(([k, v]) =>
    typeof v === "number" && Number.isFinite(v) ? [[`${resource}.${k}`, v] as [string, number]] : [],
  );
}

export interface ChartData {
  metrics: { time: string; series: string; value: number }[];
  replicas: { time: string; series: "recorded" | "replayed"; replicas: number }[];
  events: { time: string; replicas: number; direction: "up" | "down" }[];
  /** Metric series left out past MAX_METRIC_SERIES. */
  omitted: string[];
}

/** The series a chart draws, from the replay's steps. Pure. */
export function chartData(steps: readonly Step[]): ChartData {
  const metrics: ChartData["metrics"] = [];
  const names: string[] = [];
  for (const step of steps)
    for (const m of step.metrics ?? [])
      for (const [series, value] of metricNumbers(m.resource, m.value)) {
        if (!names.includes(series)) names.push(series);
        metrics.push({ time: step.time, series, value });
      }
  const kept = names.slice(0, MAX_METRIC_SERIES);
  const replicas: ChartData["replicas"] = [];
  const events: ChartData["events"] = [];
  for (const step of steps) {
    if (step.recorded)
      replicas.push({ time: step.time, series: "recorded", replicas: step.recorded.replicas });
    replicas.push({ time: step.time, series: "replayed", replicas: step.replayed.replicas });
    if (step.replayed.scaled)
      events.push({
        time: step.time,
        replicas: step.replayed.replicas,
        direction: step.replayed.replicas > step.replayed.current ? "up" : "down",
      });
  }
  return {
    metrics: metrics.filter((m) => kept.includes(m.series)),
    replicas,
    events,
    omitted: names.slice(MAX_METRIC_SERIES),
  };
}

/** The Vega-Lite spec of the chart. Times are drawn in UTC, so the picture is the same in every zone. Pure. */
export function chartSpec(data: ChartData, title: string): Record<string, unknown> {
  const times = data.replicas.map((r) => Date.parse(r.time));
  const span = times.length > 0 ? Math.max(...times) - Math.min(...times) : 0;
  // Ticks a reader can tell apart: seconds within an hour, days past one.
  const format = span > 86_400_000 ? "%b %d %H:%M" : span < 3_600_000 ? "%H:%M:%S" : "%H:%M";
  const x = {
    field: "time",
    type: "temporal",
    scale: { type: "utc" },
    title: "time (UTC)",
    axis: { format },
  };
  const width = 760;
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: {
      text: title,
      ...(data.omitted.length > 0 ? { subtitle: `not drawn: ${data.omitted.join(", ")}` } : {}),
    },
    config: { font: CHART_FONT, view: { stroke: null }, background: "white" },
    vconcat: [
      {
        width,
        height: 160,
        data: { values: data.metrics },
        mark: { type: "line", interpolate: "linear", strokeWidth: 1.5 },
        encoding: {
          x: { ...x, axis: { ...x.axis, title: null, labels: false } },
          y: { field: "value", type: "quantitative", title: "metric" },
          color: { field: "series", type: "nominal", title: "metric" },
        },
      },
      {
        width,
        height: 200,
        layer: [
          {
            data: { values: data.replicas },
            mark: { type: "line", interpolate: "step-after", strokeWidth: 2 },
            encoding: {
              x,
              y: { field: "replicas", type: "quantitative", title: "replicas", axis: { tickMinStep: 1 } },
              color: {
                field: "series",
                type: "nominal",
                title: "replicas",
                scale: { domain: ["recorded", "replayed"], range: ["#8c8c8c", "#d62728"] },
              },
              strokeDash: {
                field: "series",
                type: "nominal",
                scale: {
                  domain: ["recorded", "replayed"],
                  range: [
                    [6, 3],
                    [1, 0],
                  ],
                },
                legend: null,
              },
            },
          },
          {
            data: { values: data.events },
            mark: { type: "point", filled: true, size: 60, color: "#d62728" },
            encoding: {
              x,
              y: { field: "replicas", type: "quantitative" },
              shape: {
                field: "direction",
                type: "nominal",
                title: "replayed scale",
                scale: { domain: ["up", "down"], range: ["triangle-up", "triangle-down"] },
              },
            },
          },
        ],
        resolve: { scale: { color: "independent" } },
      },
    ],
    resolve: { scale: { color: "independent" } },
  };
}

/** Why a chart file cannot be drawn: the chart libraries are not installed (the image leaves them out). */
export class ChartUnavailableError extends Error {
  override readonly name = "ChartUnavailableError";
}

async function load<T>(name: string): Promise<T> {
  try {
    return (await import(name)) as T;
  } catch (err) {
    throw new ChartUnavailableError(
      `drawing a chart file needs ${name}, which is not installed here (${err instanceof Error ? err.message.split("\n")[0] : String(err)}). ` +
        "The image leaves the chart libraries out: run cpa replay from a checkout after `npm ci`, or use --format json or the text chart.",
    );
  }
}

interface VegaModule {
  parse: (spec: unknown) => unknown;
  View: new (runtime: unknown, opts: { renderer: string }) => { toSVG: () => Promise<string> };
}

/** The chart as SVG: Vega-Lite compiled to Vega, rendered headless. */
export async function renderSvg(spec: Record<string, unknown>): Promise<string> {
  const { compile } = await load<{ compile: (s: unknown) => { spec: unknown } }>("vega-lite");
  const vega = await load<VegaModule>("vega");
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: "none" });
  return view.toSVG();
}

/** The SVG as PNG, at twice its size, with the shipped font only (no system fonts: the same everywhere). */
export async function renderPng(svg: string): Promise<Buffer> {
  const { Resvg } = await load<{
    Resvg: new (svg: string, opts: unknown) => { render: () => { asPng: () => Buffer } };
  }>("@resvg/resvg-js");
  let font: string;
  try {
    font = createRequire(import.meta.url).resolve("dejavu-fonts-ttf/ttf/DejaVuSans.ttf");
  } catch {
    throw new ChartUnavailableError(
      "drawing a PNG needs the font package dejavu-fonts-ttf: run `npm ci` in a checkout",
    );
  }
  return new Resvg(svg, {
    font: { fontFiles: [font], loadSystemFonts: false, defaultFontFamily: CHART_FONT },
    fitTo: { mode: "zoom", value: 2 },
    background: "white",
  })
    .render()
    .asPng();
}

/**
 * A compact text chart of the replicas for the terminal: `·` recorded,
 * `█` replayed (`▓` where both agree). Pure.
 */
export function textChart(steps: readonly Step[], width = 72, height = 8): string {
  if (steps.length === 0) return "";
  const columns = Math.min(width, steps.length);
  // Each column shows the last run of its share of the steps.
  const lastOf = (c: number): Step | undefined => steps[Math.floor(((c + 1) * steps.length) / columns) - 1];
  const picked = Array.from({ length: columns }, (_, c) => lastOf(c));
  const replayed = picked.map((s) => s?.replayed.replicas ?? 0);
  const recorded = picked.map((s) => s?.recorded?.replicas);
  const top = Math.max(1, ...replayed, ...recorded.map((r) => r ?? 0));
  const row = (v: number | undefined): number | undefined =>
    v === undefined ? undefined : Math.round((v / top) * (height - 1));
  const cell = (r: number, c: number): string => {
    const p = row(replayed[c]) === r;
    const q = row(recorded[c]) === r;
    if (p && q) return "▓";
    if (p) return "█";
    return q ? "·" : " ";
  };
  const lines: string[] = [];
  for (let r = height - 1; r >= 0; r--) {
    const label = r === height - 1 ? String(top) : r === 0 ? "0" : "";
    lines.push(`${label.padStart(4)} │${Array.from({ length: columns }, (_, c) => cell(r, c)).join("")}`);
  }
  lines.push(`     └${"─".repeat(columns)}`);
  lines.push(`      ${steps[0]?.time ?? ""} … ${steps.at(-1)?.time ?? ""}`);
  lines.push(`      █ replayed   · recorded   ▓ both`);
  return `${lines.join("\n")}\n`;
}
