// Small helpers for the subcommands' flags: parse durations, and a usage error
// type the CLI prints without a stack trace.

/** A mistake in how a command was called: printed as is, exit code 2. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}

/** Parses "30s", "10m", "1h", "500ms" or a bare number of milliseconds. */
export function parseDuration(flag: string, value: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(value.trim());
  if (!m) throw new UsageError(`${flag}: "${value}" is not a duration (e.g. 30s, 10m, 1h)`);
  const n = Number(m[1]);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] ?? "ms"] ?? 1;
  return n * unit;
}

export function parsePositiveInt(flag: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1)
    throw new UsageError(`${flag}: "${value}" is not a positive whole number`);
  return n;
}
