import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { Counter, Gauge, Histogram, processMetrics, Registry } from "./prometheus.ts";

describe("the Prometheus exposition", () => {
  test("counters and gauges, with labels in their declared order and values escaped", async () => {
    const r = new Registry();
    const c = new Counter({
      name: "x_total",
      help: "Things.",
      labelNames: ["method", "code"],
      registers: [r],
    });
    c.inc({ method: "POST", code: "201" });
    c.inc({ code: "201", method: "POST" }, 2);
    c.inc({ method: 'a"b\\c\nd', code: "0" });
    const g = new Gauge({ name: "g", help: "A gauge.", registers: [r] });
    g.set(3.5);
    assert.equal(
      await r.metrics(),
      [
        "# HELP x_total Things.",
        "# TYPE x_total counter",
        'x_total{method="POST",code="201"} 3',
        'x_total{method="a\\"b\\\\c\\nd",code="0"} 1',
        "# HELP g A gauge.",
        "# TYPE g gauge",
        "g 3.5",
        "",
      ].join("\n"),
    );
  });

  test("histograms: cumulative buckets, +Inf, sum and count", async () => {
    const r = new Registry();
    const h = new Histogram({
      name: "d_seconds",
      help: "Durations.",
      labelNames: ["stage"],
      buckets: [0.1, 1],
      registers: [r],
    });
    for (const v of [0.05, 0.5, 0.5, 3]) h.observe({ stage: "metric" }, v);
    assert.equal(
      await r.metrics(),
      [
        "# HELP d_seconds Durations.",
        "# TYPE d_seconds histogram",
        'd_seconds_bucket{stage="metric",le="0.1"} 1',
        'd_seconds_bucket{stage="metric",le="1"} 3',
        'd_seconds_bucket{stage="metric",le="+Inf"} 4',
        'd_seconds_sum{stage="metric"} 4.05',
        'd_seconds_count{stage="metric"} 4',
        "",
      ].join("\n"),
    );
  });

  test("a gauge's collect runs at each scrape; the process metrics are there", async () => {
    const r = new Registry();
    let depth = 1;
    new Gauge({
      name: "depth",
      help: "Depth.",
      registers: [r],
      collect() {
        this.set(depth);
      },
    });
    processMetrics(r, "p_");
    assert.match(await r.metrics(), /^depth 1$/m);
    depth = 7;
    const text = await r.metrics();
    assert.match(text, /^depth 7$/m);
    for (const name of [
      "p_cpu_seconds_total",
      "p_resident_memory_bytes",
      "p_heap_used_bytes",
      "p_start_time_seconds",
      "p_event_loop_delay_p99_seconds",
    ])
      assert.match(text, new RegExp(`^${name} \\d`, "m"), name);
  });

  test("a name registered twice is refused", () => {
    const r = new Registry();
    new Counter({ name: "c", help: "c", registers: [r] });
    assert.throws(() => new Counter({ name: "c", help: "c", registers: [r] }), /registered twice/);
  });
});
