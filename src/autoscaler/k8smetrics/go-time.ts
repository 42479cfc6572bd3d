// Times and durations as the original's Go code read and wrote them. Times are
// kept as BigInt nanoseconds since the epoch, so metric timestamps with a
// fraction round-trip exactly and compare like Go's time.Time.

/** Go's zero time.Time (0001-01-01T00:00:00Z): what an absent metav1.Time decodes to. */
export const ZERO_TIME = -62_135_596_800n * 1_000_000_000n;

const RFC3339 =
  /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:[Zz]|([+-])(\d{2}):(\d{2}))$/;

/** Milliseconds (a clock reading) to nanoseconds. */
export function fromMillis(ms: number): bigint {
  return BigInt(Math.trunc(ms)) * 1_000_000n;
}

/** An RFC 3339 time to nanoseconds since the epoch; absent → Go's zero time; unreadable → undefined. */
export function parseTime(text: string | null | undefined): bigint | undefined {
  if (text === null || text === undefined || text === "") return ZERO_TIME;
  const m = RFC3339.exec(text);
  if (!m) return undefined;
  const [, year, month, day, hour, minute, second, fraction = "", sign, offH = "0", offM = "0"] = m;
  const date = new Date(0);
  // setUTCFullYear, not Date.UTC: the latter maps years 0-99 to 1900-1999.
  date.setUTCFullYear(Number(year), Number(month) - 1, Number(day));
  date.setUTCHours(Number(hour), Number(minute), Number(second), 0);
  const offset = (Number(offH) * 60 + Number(offM)) * 60 * (sign === "-" ? -1 : 1);
  const seconds = BigInt(date.getTime() / 1000 - offset);
  return seconds * 1_000_000_000n + BigInt(fraction.padEnd(9, "0"));
}

/** Nanoseconds since the epoch to Go's RFC3339Nano in UTC: fraction without trailing zeros. */
export function formatTime(ns: bigint): string {
  let seconds = ns / 1_000_000_000n;
  let nanos = ns % 1_000_000_000n;
  if (nanos < 0n) {
    seconds -= 1n;
    nanos += 1_000_000_000n;
  }
  const base = new Date(Number(seconds) * 1000).toISOString().slice(0, 19);
  const fraction = nanos === 0n ? "" : `.${nanos.toString().padStart(9, "0").replace(/0+$/, "")}`;
  return `${base}${fraction}Z`;
}

const DURATION_UNITS: Readonly<Record<string, bigint>> = {
  ns: 1n,
  us: 1_000n,
  "\u00b5s": 1_000n,
  "\u03bcs": 1_000n,
  ms: 1_000_000n,
  s: 1_000_000_000n,
  m: 60_000_000_000n,
  h: 3_600_000_000_000n,
};

/** A Go duration string ("15s", "1m0.5s", "10.011s") to integer nanoseconds, like time.ParseDuration. */
export function parseDuration(text: string): number | undefined {
  const sign = text.startsWith("-") ? -1n : 1n;
  const rest = text.replace(/^[+-]/, "");
  if (rest === "0") return 0;
  if (rest === "") return undefined;
  let total = 0n;
  const part = /(\d*)(?:\.(\d*))?([a-z\u00b5\u03bc]+)/y;
  let at = 0;
  for (let m = part.exec(rest); m; m = part.exec(rest)) {
    const [, whole = "", fraction = "", unitName = ""] = m;
    const unit = DURATION_UNITS[unitName];
    if (unit === undefined || whole + fraction === "") return undefined;
    // Go truncates a fraction finer than a nanosecond.
    total += BigInt(whole || "0") * unit + (BigInt(fraction || "0") * unit) / 10n ** BigInt(fraction.length);
    at = part.lastIndex;
  }
  return at === rest.length ? Number(sign * total) : undefined;
}
