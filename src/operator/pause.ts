import { PAUSED_REPLICAS_ANNOTATION } from "../api/names.ts";

export type Pause =
  { kind: "none" } | { kind: "paused"; replicas: number } | { kind: "invalid"; value: string };

/** Reads the paused-replicas annotation: a non-negative integer pauses at that many replicas. */
export function pauseOf(annotations: Record<string, string> | undefined): Pause {
  const value = annotations?.[PAUSED_REPLICAS_ANNOTATION];
  if (value === undefined) return { kind: "none" };
  const trimmed = value.trim();
  if (!/^\d+$/.test(trimmed) || Number(trimmed) > 2_147_483_647) return { kind: "invalid", value };
  return { kind: "paused", replicas: Number(trimmed) };
}
