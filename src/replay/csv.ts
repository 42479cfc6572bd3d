// A synthetic load for replay: a CSV of `time,metric...` (a header line, then
// one row per run). time is an RFC 3339 time or seconds from the start; one
// metric column becomes the metric's value as it is, several a JSON object of
// column → number, as a metric stage printing JSON would give them. Pure.
import type { Metric, Resource } from "../autoscaler/stage-types.ts";
import type { ReplayRun } from "./simulate.ts";

export class CsvError extends Error {
  override readonly name = "CsvError";
}

export interface CsvTarget {
  apiVersion?: string;
  kind: string;
  name: string;
  namespace: string;
}

/** The target the stages see in a synthetic run: what a scaling script most often reads. Pure. */
export function syntheticResource(target: CsvTarget, replicas: number): Resource {
  return {
    ...(target.apiVersion ? { apiVersion: target.apiVersion } : {}),
    kind: target.kind,
    metadata: { name: target.name, namespace: target.namespace },
    spec: { replicas },
    status: { replicas },
  };
}

export function parseCsv(text: string, file: string, target: CsvTarget): ReplayRun[] {
  const rows = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"));
  const header = rows[0]?.split(",").map((h) => h.trim());
  if (header?.[0] !== "time" || header.length < 2)
    throw new CsvError(
      `${file}: the first line must be a header "time,<metric>[,<metric>...]", got "${rows[0] ?? ""}"`,
    );
  const columns = header.slice(1);
  const start = Date.UTC(2026, 0, 1);
  return rows.slice(1).map((row, i) => {
    const cells = row.split(",").map((c) => c.trim());
    const line = i + 2;
    if (cells.length !== header.length)
      throw new CsvError(`${file}:${line}: ${cells.length} fields, the header has ${header.length}`);
    const [time = "", ...values] = cells;
    const at = /^\d+(\.\d+)?$/.test(time) ? start + Number(time) * 1000 : Date.parse(time);
    if (Number.isNaN(at))
      throw new CsvError(
        `${file}:${line}: time "${time}" is neither an RFC 3339 time nor seconds from the start`,
      );
    const numbers = values.map((v, c) => {
      const n = Number(v);
      if (v === "" || !Number.isFinite(n))
        throw new CsvError(`${file}:${line}: ${columns[c] ?? "a metric"} "${v}" is not a number`);
      return n;
    });
    const value =
      columns.length === 1
        ? (values[0] ?? "")
        : JSON.stringify(Object.fromEntries(columns.map((c, k) => [c, numbers[k]])));
    const metrics: Metric[] = [{ resource: target.name, value }];
    // The replicas are the replay's own: simulate.ts sets spec.replicas for each run.
    return { at, runType: "scaler" as const, resource: syntheticResource(target, 0), metrics };
  });
}
