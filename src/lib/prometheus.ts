// Counters, gauges and histograms in Prometheus' text exposition format (0.0.4):
// the few kinds cpa uses, written here because the usual library costs about
// 15 MB of memory at import, a quarter of what an idle autoscaler may use.
import { monitorEventLoopDelay } from "node:perf_hooks";

type Labels = Record<string, string>;

interface Metric {
  readonly name: string;
  readonly labelNames: readonly string[];
  /** The metric's lines: # HELP, # TYPE and its samples. */
  render(): string;
}

export class Registry {
  readonly contentType = "text/plain; version=0.0.4; charset=utf-8";
  readonly #metrics: Metric[] = [];
  readonly #collectors: (() => void)[] = [];

  register(metric: Metric, collect?: () => void): void {
    if (this.#metrics.some((m) => m.name === metric.name))
      throw new Error(`metric ${metric.name} is registered twice`);
    this.#metrics.push(metric);
    if (collect) this.#collectors.push(collect);
  }

  /** Every metric registered, with its label names (for docs and tests). */
  describe(): { name: string; labelNames: readonly string[] }[] {
    return this.#metrics.map((m) => ({ name: m.name, labelNames: m.labelNames }));
  }

  /** The exposition of every metric (a promise, so serving code can await it as it would any source). */
  metrics(): Promise<string> {
    for (const c of this.#collectors) c();
    return Promise.resolve(this.#metrics.map((m) => m.render()).join(""));
  }
}

/** A label value as the format wants it: backslash, double quote and newline escaped. */
function escapeValue(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

function labelText(names: readonly string[], labels: Labels, extra = ""): string {
  const parts = names.map((n) => `${n}="${escapeValue(labels[n] ?? "")}"`);
  if (extra) parts.push(extra);
  return parts.length ? `{${parts.join(",")}}` : "";
}

function header(name: string, help: string, type: string): string {
  return `# HELP ${name} ${help.replace(/\\/g, "\\\\").replace(/\n/g, "\\n")}\n# TYPE ${name} ${type}\n`;
}

function number(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "-Inf";
  return String(v);
}

interface Options<L extends string> {
  name: string;
  help: string;
  labelNames?: readonly L[];
  registers?: Registry[];
}

/** Samples keyed by their label values, in the order labelNames gives. */
class Series<L extends string, V> {
  readonly names: readonly L[];
  readonly #byKey = new Map<string, { labels: Labels; value: V }>();

  constructor(names: readonly L[]) {
    this.names = names;
  }

  get(labels: Partial<Record<L, string>>, init: () => V): V {
    const key = this.names.map((n) => labels[n] ?? "").join("\u0000");
    let entry = this.#byKey.get(key);
    if (!entry) {
      entry = { labels: labels as Labels, value: init() };
      this.#byKey.set(key, entry);
    }
    return entry.value;
  }

  set(labels: Partial<Record<L, string>>, value: V): void {
    const key = this.names.map((n) => labels[n] ?? "").join("\u0000");
    this.#byKey.set(key, { labels: labels as Labels, value });
  }

  entries(): { labels: Labels; value: V }[] {
    return [...this.#byKey.values()];
  }
}

export class Counter<L extends string = never> implements Metric {
  readonly name: string;
  get labelNames(): readonly string[] {
    return this.#series.names;
  }
  readonly #help: string;
  readonly #series: Series<L, { n: number }>;

  constructor(opts: Options<L>) {
    this.name = opts.name;
    this.#help = opts.help;
    this.#series = new Series(opts.labelNames ?? []);
    for (const r of opts.registers ?? []) r.register(this);
  }

  inc(labels: Partial<Record<L, string>> = {}, value = 1): void {
    this.#series.get(labels, () => ({ n: 0 })).n += value;
  }

  render(): string {
    const lines = this.#series
      .entries()
      .map((e) => `${this.name}${labelText(this.#series.names, e.labels)} ${number(e.value.n)}\n`);
    return header(this.name, this.#help, "counter") + lines.join("");
  }
}

export class Gauge<L extends string = never> implements Metric {
  readonly name: string;
  get labelNames(): readonly string[] {
    return this.#series.names;
  }
  readonly #help: string;
  readonly #series: Series<L, number>;

  constructor(opts: Options<L> & { collect?: (this: Gauge<L>) => void }) {
    this.name = opts.name;
    this.#help = opts.help;
    this.#series = new Series(opts.labelNames ?? []);
    const collect = opts.collect?.bind(this);
    for (const r of opts.registers ?? []) r.register(this, collect);
  }

  set(labelsOrValue: Partial<Record<L, string>> | number, value?: number): void {
    if (typeof labelsOrValue === "number") this.#series.set({}, labelsOrValue);
    else this.#series.set(labelsOrValue, value ?? 0);
  }

  render(): string {
    const entries = this.#series.entries();
    const lines = entries.map(
      (e) => `${this.name}${labelText(this.#series.names, e.labels)} ${number(e.value)}\n`,
    );
    return header(this.name, this.#help, "gauge") + lines.join("");
  }
}

export class Histogram<L extends string = never> implements Metric {
  readonly name: string;
  get labelNames(): readonly string[] {
    return this.#series.names;
  }
  readonly #help: string;
  readonly #buckets: readonly number[];
  readonly #series: Series<L, { counts: number[]; sum: number; count: number }>;

  constructor(opts: Options<L> & { buckets: readonly number[] }) {
    this.name = opts.name;
    this.#help = opts.help;
    this.#buckets = [...opts.buckets].sort((a, b) => a - b);
    this.#series = new Series(opts.labelNames ?? []);
    for (const r of opts.registers ?? []) r.register(this);
  }

  observe(labelsOrValue: Partial<Record<L, string>> | number, value?: number): void {
    const labels = typeof labelsOrValue === "number" ? {} : labelsOrValue;
    const v = typeof labelsOrValue === "number" ? labelsOrValue : (value ?? 0);
    const s = this.#series.get(labels, () => ({ counts: this.#buckets.map(() => 0), sum: 0, count: 0 }));
    // Each observation counts in the first bucket that holds it; rendering makes them cumulative.
    const i = this.#buckets.findIndex((b) => v <= b);
    if (i >= 0) s.counts[i] = (s.counts[i] ?? 0) + 1;
    s.sum += v;
    s.count++;
  }

  /** Starts timing; the returned function observes the seconds since. */
  startTimer(labels: Partial<Record<L, string>> = {}): () => void {
    const started = performance.now();
    return () => {
      this.observe(labels, (performance.now() - started) / 1000);
    };
  }

  render(): string {
    const names = this.#series.names;
    const lines: string[] = [];
    for (const { labels, value } of this.#series.entries()) {
      let cumulative = 0;
      this.#buckets.forEach((b, i) => {
        cumulative += value.counts[i] ?? 0;
        lines.push(`${this.name}_bucket${labelText(names, labels, `le="${number(b)}"`)} ${cumulative}\n`);
      });
      lines.push(`${this.name}_bucket${labelText(names, labels, 'le="+Inf"')} ${value.count}\n`);
      lines.push(`${this.name}_sum${labelText(names, labels)} ${number(value.sum)}\n`);
      lines.push(`${this.name}_count${labelText(names, labels)} ${value.count}\n`);
    }
    return header(this.name, this.#help, "histogram") + lines.join("");
  }
}

/** The process's own health: CPU, memory, start time, event loop delay. */
export function processMetrics(registry: Registry, prefix: string): void {
  const startedAt = Math.round(Date.now() / 1000 - process.uptime());
  const delay = monitorEventLoopDelay({ resolution: 20 });
  delay.enable();
  const cpu = `${prefix}cpu_seconds_total`;
  registry.register({
    name: cpu,
    labelNames: [],
    render: () => {
      const u = process.cpuUsage();
      return `${header(cpu, "User and system CPU time of the process.", "counter")}${cpu} ${(u.user + u.system) / 1e6}\n`;
    },
  });
  new Gauge({
    name: `${prefix}resident_memory_bytes`,
    help: "Resident set size of the process.",
    registers: [registry],
    collect() {
      this.set(process.memoryUsage.rss());
    },
  });
  new Gauge({
    name: `${prefix}heap_used_bytes`,
    help: "V8 heap in use.",
    registers: [registry],
    collect() {
      this.set(process.memoryUsage().heapUsed);
    },
  });
  new Gauge({
    name: `${prefix}start_time_seconds`,
    help: "When the process started, in seconds since the Unix epoch.",
    registers: [registry],
    collect() {
      this.set(startedAt);
    },
  });
  new Gauge({
    name: `${prefix}event_loop_delay_p99_seconds`,
    help: "The 99th percentile of the event loop's delay since the last scrape.",
    registers: [registry],
    collect() {
      this.set(delay.percentile(99) / 1e9);
      delay.reset();
    },
  });
}
