import { pino, type Logger, type LevelWithSilent } from "pino";

/** The one root logger of a process, created by its entry point and passed down. */
export function createLogger(name: string, level: string = process.env["LOG_LEVEL"] ?? "info"): Logger {
  return pino({
    name,
    level: level as LevelWithSilent,
    base: null,
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    redact: {
      paths: ["*.token", "*.password", "*.authorization", "*.headers.authorization"],
      censor: "[redacted]",
    },
  });
}

export type { Logger };
