// The flight recorder's memory: the latest records, bounded by count and by
// bytes, oldest dropped first, served by GET /api/v1/history. The log keeps
// the long history (any log pipeline); this is for a quick look and for
// `cpa record` when the Pod's log has been rotated away.
import type { RunRecord } from "./record.ts";

/** At the default 15 s interval, 1,000 runs are about 4 hours. */
export const RING_RECORDS = 1000;
/** Records are capped (record.ts), so a full ring stays well under this; it holds the worst case. */
export const RING_BYTES = 8 * 1024 * 1024;

interface Entry {
  at: number;
  line: string;
}

export class RecordRing {
  readonly #maxRecords: number;
  readonly #maxBytes: number;
  #entries: Entry[] = [];
  #start = 0;
  #bytes = 0;
  #dropped = 0;

  constructor(maxRecords = RING_RECORDS, maxBytes = RING_BYTES) {
    if (maxRecords < 1 || maxBytes < 1) throw new RangeError("a ring holds at least one record");
    this.#maxRecords = maxRecords;
    this.#maxBytes = maxBytes;
  }

  /** Keeps the record (as its JSON line), dropping the oldest past either bound. */
  add(record: RunRecord): void {
    const line = JSON.stringify(record);
    this.#entries.push({ at: Date.parse(record.time), line });
    this.#bytes += line.length;
    while (this.size > this.#maxRecords || (this.#bytes > this.#maxBytes && this.size > 1)) {
      const oldest = this.#entries[this.#start];
      if (!oldest) break;
      this.#bytes -= oldest.line.length;
      this.#start++;
      this.#dropped++;
    }
    // Compact now and then, so the array does not grow with every record ever added.
    if (this.#start > this.#maxRecords) {
      this.#entries = this.#entries.slice(this.#start);
      this.#start = 0;
    }
  }

  get size(): number {
    return this.#entries.length - this.#start;
  }

  /** Characters held (the JSON lines' lengths). */
  get bytes(): number {
    return this.#bytes;
  }

  /** Records dropped to stay within the bounds, since start. */
  get dropped(): number {
    return this.#dropped;
  }

  /** The records at or after `since` (ms since the epoch), oldest first, as JSON lines. */
  lines(since = Number.NEGATIVE_INFINITY): string[] {
    const out: string[] = [];
    for (let i = this.#start; i < this.#entries.length; i++) {
      const e = this.#entries[i];
      if (e && e.at >= since) out.push(e.line);
    }
    return out;
  }
}

/**
 * `?since=` as the history API takes it: an RFC 3339 time, or a duration back
 * from now (90s, 30m, 6h, 2d). Returns ms since the epoch, or an error message. Pure.
 */
export function parseSince(value: string, now: number): number | string {
  const duration = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(value);
  if (duration) {
    const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[duration[2] as "s"];
    return now - Number(duration[1]) * unit;
  }
  if (/^\d{4}-\d{2}-\d{2}T/.test(value)) {
    const at = Date.parse(value);
    if (!Number.isNaN(at)) return at;
  }
  return `'since' must be an RFC 3339 time (2026-12-01T09:00:00Z) or a duration back from now (90s, 30m, 6h, 2d); got '${value}'`;
}
