// Reading flight records back: from an autoscaler's log (each line pino's JSON
// with the record under `record`), from a log store's export (the same lines,
// perhaps behind a timestamp or other prefix), or from a trace file `cpa
// record` wrote (one bare record per line). Pure.
import { RECORD_VERSION, type RunRecord } from "./record.ts";

export interface ParsedRecords {
  records: RunRecord[];
  /** Lines that held JSON but no record (the log's other lines). */
  other: number;
  /** Records of a version this cpa does not know, left out. */
  unknownVersion: number;
}

/** A record of any version: readers check `v` before they trust the rest. */
type AnyRecord = Omit<RunRecord, "v"> & { v: number };

function isRecord(value: unknown): value is AnyRecord {
  if (typeof value !== "object" || value === null) return false;
  const r = value as Record<string, unknown>;
  return typeof r["v"] === "number" && typeof r["time"] === "string" && typeof r["runType"] === "string";
}

/** The records in `lines`, oldest first (by time, then by order in the input), each once. */
export function parseRecords(lines: Iterable<string>): ParsedRecords {
  const records: RunRecord[] = [];
  const seen = new Set<string>();
  let other = 0;
  let unknownVersion = 0;
  for (const line of lines) {
    const start = line.indexOf("{");
    if (start < 0) continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line.slice(start));
    } catch {
      other++;
      continue;
    }
    const candidate = isRecord(parsed) ? parsed : (parsed as { record?: unknown } | null)?.record;
    if (!isRecord(candidate)) {
      other++;
      continue;
    }
    if (candidate.v !== RECORD_VERSION) {
      unknownVersion++;
      continue;
    }
    // The same run read twice (two exports, or a Pod's log and its previous container's) counts once.
    const key = JSON.stringify(candidate);
    if (seen.has(key)) continue;
    seen.add(key);
    records.push(candidate as RunRecord);
  }
  const order = records.map((r, i) => ({ r, i, at: Date.parse(r.time) }));
  order.sort((a, b) => a.at - b.at || a.i - b.i);
  return { records: order.map((o) => o.r), other, unknownVersion };
}
