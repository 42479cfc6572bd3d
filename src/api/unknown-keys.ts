// Keys a configuration sets that nothing reads, at any depth, found by walking
// the value beside the schema that describes it: the original ignored unknown
// keys silently, so a typo (`logStdErr`, `intervall`) changed nothing and said
// nothing. Each is reported with its path and the known key it most likely
// meant. Items of kubernetesMetricSpecs are checked against the fields of the
// HPA's autoscaling/v2 MetricSpec, whose schema is the HPA's, not ours. Pure.
import { array, integer, object, record, string, type JsonSchema } from "./schema.ts";

export interface UnknownKey {
  /** Where it is: metric.shell.logStdErr, kubernetesMetricSpecs[0].resource.nme. */
  path: string;
  /** The known key at that level it is closest to, if one is close. */
  nearest?: string;
}

const labelSelector = object({
  matchLabels: record(string()),
  matchExpressions: array(object({ key: string(), operator: string(), values: array(string()) })),
});
const metricIdentifier = object({ name: string(), selector: labelSelector });
const metricTarget = object({
  type: string(),
  value: string(),
  averageValue: string(),
  averageUtilization: integer(),
});

/** The fields of an autoscaling/v2 MetricSpec (k8s.io/api/autoscaling/v2), for finding unknown keys only. */
export const HPA_METRIC_SPEC: JsonSchema = object({
  type: string(),
  resource: object({ name: string(), target: metricTarget }),
  containerResource: object({ name: string(), container: string(), target: metricTarget }),
  pods: object({ metric: metricIdentifier, target: metricTarget }),
  object: object({
    describedObject: object({ apiVersion: string(), kind: string(), name: string() }),
    metric: metricIdentifier,
    target: metricTarget,
  }),
  external: object({ metric: metricIdentifier, target: metricTarget }),
});

/** Schemas to use below a path instead of ours (the path's `[i]`s written as `[]`). */
const OVERRIDES: Record<string, JsonSchema> = { "kubernetesMetricSpecs[]": HPA_METRIC_SPEC };

/** Every key of `value` that `schema` does not know, depth first. */
export function unknownKeys(value: unknown, schema: JsonSchema, path = ""): UnknownKey[] {
  const s = OVERRIDES[path.replace(/\[\d+\]/g, "[]")] ?? schema;
  if (s.anyOf) {
    const branch = s.anyOf.find((b) => matchesType(value, b));
    return branch ? unknownKeys(value, branch, path) : [];
  }
  if (Array.isArray(value)) {
    const items = s.items;
    return items ? value.flatMap((v, i) => unknownKeys(v, items, `${path}[${i}]`)) : [];
  }
  if (!isObject(value) || s.type !== "object") return [];
  return Object.entries(value).flatMap(([key, v]) => unknownIn(key, v, s, path));
}

/** One key of an object described by `s`: its own unknown keys, or itself when `s` does not know it. */
function unknownIn(key: string, value: unknown, s: JsonSchema, path: string): UnknownKey[] {
  const at = path === "" ? key : `${path}.${key}`;
  const known = s.properties ?? {};
  const child = known[key] ?? s.additionalProperties;
  if (child) return unknownKeys(value, child, at);
  if (!s.properties || s["x-kubernetes-preserve-unknown-fields"]) return [];
  const near = nearest(key, Object.keys(known));
  return [near ? { path: at, nearest: near } : { path: at }];
}

/** The warning for an unknown key, as `cpa validate` prints it and the autoscaler logs it. */
export function unknownKeyWarning(k: UnknownKey): string {
  return `unknown key ${k.path} is ignored${k.nearest ? ` (did you mean ${k.nearest}?)` : " (a typo?)"}`;
}

function matchesType(value: unknown, s: JsonSchema): boolean {
  switch (s.type) {
    case "object":
      return isObject(value);
    case "array":
      return Array.isArray(value);
    case "string":
      return typeof value === "string";
    case undefined:
      return true;
    default:
      return typeof value === "number" || typeof value === "boolean";
  }
}

/** The candidate closest to `key` (case aside, then by edit distance), if it is close enough to be a typo. */
export function nearest(key: string, candidates: readonly string[]): string | undefined {
  const lower = key.toLowerCase();
  const exact = candidates.find((c) => c.toLowerCase() === lower);
  if (exact) return exact;
  let best: { c: string; d: number } | undefined;
  for (const c of candidates) {
    const d = distance(lower, c.toLowerCase());
    if (!best || d < best.d) best = { c, d };
  }
  return best && best.d <= Math.max(2, Math.floor(key.length / 3)) ? best.c : undefined;
}

/** Levenshtein distance. */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      cur[j] = Math.min((prev[j] ?? 0) + 1, (cur[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + cost);
    }
    prev = cur;
  }
  return prev[b.length] ?? 0;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
