import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  chartData,
  chartSpec,
  metricNumbers,
  renderPng,
  renderSvg,
  textChart,
  MAX_METRIC_SERIES,
} from "./chart.ts";
import type { Step } from "./simulate.ts";

const T0 = Date.parse("2026-12-01T09:00:00.000Z");

function step(m: number, value: string, recorded: number, replayed: number, before: number): Step {
  return {
    time: new Date(T0 + m * 60_000).toISOString(),
    runType: "scaler",
    metrics: [{ resource: "web", value }],
    recorded: { current: before, replicas: recorded, scaled: recorded !== before, cut: false },
    replayed: { current: before, replicas: replayed, scaled: replayed !== before, rules: [], reason: "" },
  };
}

const steps = [
  step(0, "1", 1, 1, 1),
  step(1, "5", 3, 5, 1),
  step(2, "9", 3, 9, 5),
  step(3, "2", 3, 2, 9),
  step(4, "2", 3, 2, 2),
];

describe("chartData", () => {
  test("metric numbers: a number, or each numeric field of a JSON object", () => {
    assert.deepEqual(metricNumbers("web", " 7 "), [["web", 7]]);
    assert.deepEqual(metricNumbers("web", '{"cpu":0.5,"queue":3,"name":"x"}'), [
      ["web.cpu", 0.5],
      ["web.queue", 3],
    ]);
    assert.deepEqual(metricNumbers("web", "busy"), []);
    assert.deepEqual(metricNumbers("web", undefined), []);
  });

  test("the replicas as recorded and replayed, and each replayed scale marked up or down", () => {
    const data = chartData(steps);
    assert.equal(data.replicas.filter((r) => r.series === "recorded").length, 5);
    assert.deepEqual(
      data.events.map((e) => [e.replicas, e.direction]),
      [
        [5, "up"],
        [9, "up"],
        [2, "down"],
      ],
    );
    assert.equal(data.metrics.length, 5);
  });

  test("past the series cap, the rest are named, not drawn", () => {
    const many = [
      {
        ...step(0, "1", 1, 1, 1),
        metrics: Array.from({ length: MAX_METRIC_SERIES + 2 }, (_, i) => ({
          resource: `pod-${i}`,
          value: "1",
        })),
      },
    ];
    const data = chartData(many);
    assert.equal(new Set(data.metrics.map((m) => m.series)).size, MAX_METRIC_SERIES);
    assert.deepEqual(data.omitted, [`pod-${MAX_METRIC_SERIES}`, `pod-${MAX_METRIC_SERIES + 1}`]);
  });
});

describe("the chart files", () => {
  test("the SVG has the metric, the recorded and the replayed series, and a mark per scale event", async () => {
    const svg = await renderSvg(chartSpec(chartData(steps), "Replay of Deployment/web in shop"));
    assert.match(svg, /^<svg [^>]*width="\d+" height="\d+"/);
    assert.ok(svg.trimEnd().endsWith("</svg>"));
    assert.equal(svg.match(/aria-roledescription="line mark"/g)?.length, 3, "metric, recorded, replayed");
    assert.equal(svg.match(/aria-roledescription="point"/g)?.length, 3, "three scale events");
    assert.match(svg, /Replay of Deployment\/web in shop/);
  });

  test("the PNG decodes: its signature, and a size twice the SVG's", async () => {
    const svg = await renderSvg(chartSpec(chartData(steps), "t"));
    const [, w = "0", h = "0"] = /width="(\d+)" height="(\d+)"/.exec(svg) ?? [];
    const png = await renderPng(svg);
    assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    assert.equal(png.subarray(12, 16).toString("latin1"), "IHDR");
    assert.equal(png.readUInt32BE(16), Number(w) * 2);
    assert.equal(png.readUInt32BE(20), Number(h) * 2);
    // Text drawn with the shipped font makes a real picture, not a blank page.
    assert.ok(png.length > 20_000, `${png.length} bytes`);
  });

  test("the same steps draw the same SVG", async () => {
    const spec = chartSpec(chartData(steps), "t");
    assert.equal(await renderSvg(spec), await renderSvg(spec));
  });
});

describe("textChart", () => {
  test("a terminal chart: replayed, recorded, and where they agree", () => {
    const text = textChart(steps, 72, 4);
    const rows = text.split("\n");
    assert.equal(rows[0], "   9 │  █  ");
    assert.match(text, /▓/);
    assert.match(text, /·/);
    assert.match(rows.at(-2) ?? "", /█ replayed {3}· recorded {3}▓ both/);
  });
});
