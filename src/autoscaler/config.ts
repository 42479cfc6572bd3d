// Loads the autoscaler's configuration as the original does: the file (YAML or
// JSON, first document; path from env configPath, default /config.yaml), then one
// env var per top-level key overriding it (that is how the operator passes
// spec.config), then defaults. Unlike the original it validates everything and
// refuses to start half-configured, naming the key, the value, what was
// expected, and whether it came from the file or the environment.
import { existsSync, readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { parseAllDocuments } from "yaml";
import type { ErrorObject, ValidateFunction } from "ajv";
import {
  CONFIG_DEFAULTS,
  configSchema,
  STATE_DEFAULT_MAX_BYTES,
  type ApiConfig,
  type Behavior,
  type Fallback,
  type Method,
  type UserStateConfig,
} from "../api/autoscaler-config.ts";
import type { ScaleTargetRef } from "../api/custom-pod-autoscaler.ts";
import { validate as generatedValidator } from "../api/config-validator.generated.js";
import { unknownKeys as findUnknownKeys, unknownKeyWarning } from "../api/unknown-keys.ts";

export const DEFAULT_CONFIG_PATH = "/config.yaml";

/** The configuration with every default applied. */
export interface Config {
  scaleTargetRef: ScaleTargetRef;
  namespace: string;
  interval: number;
  minReplicas: number;
  maxReplicas: number;
  runMode: "per-pod" | "per-resource";
  startTime: number;
  logVerbosity: number;
  downscaleStabilization: number;
  apiConfig: ApiConfig & Required<Pick<ApiConfig, "enabled" | "useHTTPS" | "port" | "host">>;
  metric: Method;
  evaluate: Method;
  preMetric?: Method;
  postMetric?: Method;
  preEvaluate?: Method;
  postEvaluate?: Method;
  preScale?: Method;
  postScale?: Method;
  kubernetesMetricSpecs?: Record<string, unknown>[];
  requireKubernetesMetrics: boolean;
  initialReadinessDelay: number;
  cpuInitializationPeriod: number;
  behavior?: Behavior;
  fallback?: Fallback;
  metricConcurrency: number;
  /** Beyond the original: state for the stages, kept in the CPA's status (durable.ts). */
  state?: UserStateConfig;
  /** Folder of the config file: relative paths in methods resolve against it. */
  configDir: string;
}

export const DEFAULTS = CONFIG_DEFAULTS;

/** The size limit of the stages' state in bytes, or undefined when state is off. */
export function stateLimit(config: Pick<Config, "state">): number | undefined {
  return config.state?.enabled ? (config.state.maxBytes ?? STATE_DEFAULT_MAX_BYTES) : undefined;
}

/** Keys whose env value is taken verbatim, and keys parsed as base-10 integers (as the original). */
const VERBATIM_KEYS = new Set(["namespace", "runMode"]);
const INTEGER_KEYS = new Set(["interval", "downscaleStabilization", "metricConcurrency"]);
const KNOWN_KEYS = new Set(Object.keys(configSchema.properties ?? {}));

export type Source = { kind: "file"; path: string } | { kind: "env" } | { kind: "default" };

/** A configuration that cannot work: every problem, each naming key, value and source. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.problems = problems;
  }
}

export interface Loaded {
  config: Config;
  /** Where each top-level key came from. */
  sources: Record<string, Source>;
  /** Keys nobody reads, at any depth (typos, most likely): warned about, as the original ignored them. */
  unknownKeys: string[];
  /** What `cpa validate` prints and the autoscaler logs at start: unknown keys, settings that disagree. */
  warnings: string[];
}

/** Reads the file named by configPath (or the default) and the environment. */
export function loadConfig(env: NodeJS.ProcessEnv, path = env["configPath"] ?? DEFAULT_CONFIG_PATH): Loaded {
  return resolveConfig(readConfigFile(path), path, env);
}

export function readConfigFile(path: string): Record<string, unknown> {
  if (!existsSync(path))
    throw new ConfigError([`config file ${path} does not exist (set configPath to another file)`]);
  const text = readFileSync(path, "utf8");
  return parseConfigText(text, path);
}

export function parseConfigText(text: string, path: string): Record<string, unknown> {
  const [doc] = parseAllDocuments(text);
  if (!doc || !("errors" in doc)) return {};
  if (doc.errors.length > 0) {
    throw new ConfigError(doc.errors.map((e) => `${path}: ${e.message}`));
  }
  const value: unknown = doc.toJS();
  if (value === null || value === undefined) return {};
  if (typeof value !== "object" || Array.isArray(value)) {
    throw new ConfigError([`${path}: expected a mapping of config keys, got ${describe(value)}`]);
  }
  return value as Record<string, unknown>;
}

/** Applies env overrides and defaults to what the file said, then validates. */
export function resolveConfig(file: Record<string, unknown>, path: string, env: NodeJS.ProcessEnv): Loaded {
  const sources: Record<string, Source> = {};
  const merged: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const [key, value] of Object.entries(file)) {
    merged[key] = value;
    sources[key] = { kind: "file", path };
  }
  problems.push(...readEnv(env, merged, sources));
  const unknown = findUnknownKeys(merged, configSchema);
  const warnings = [
    ...unknown.map(
      (k) =>
        `${unknownKeyWarning(k)}${sourceText(k.path.split(/[.[]/)[0] ?? "", sources[k.path.split(/[.[]/)[0] ?? ""])}`,
    ),
    ...logStderrWarnings(merged),
  ];
  for (const [key, value] of Object.entries(DEFAULTS)) {
    if (merged[key] === undefined) {
      merged[key] = structuredClone(value);
      sources[key] = { kind: "default" };
    } else if (key === "apiConfig" && isObject(merged[key])) {
      // The original replaced the whole object, losing defaults of omitted keys; we keep them.
      merged[key] = { ...DEFAULTS.apiConfig, ...merged[key] };
    }
  }
  problems.push(...schemaProblems(merged, sources), ...crossFieldProblems(merged));
  if (problems.length > 0) throw new ConfigError(problems);
  const config = { ...merged, configDir: dirname(resolve(path)) } as unknown as Config;
  return { config, sources, unknownKeys: unknown.map((k) => k.path), warnings };
}

/**
 * What can be told wrong of config entries given as environment variables
 * alone (a CPA's spec.config, seen by the operator): each known key's value
 * parsed and checked against the schema, as the runtime will. Problems that
 * depend on the image's config.yaml, which only the runtime sees (a required
 * key, one entry against a key of the file), are not reported. Pure.
 */
export function envEntryProblems(env: Readonly<Record<string, string>>): string[] {
  const problems: string[] = [];
  const sources: Record<string, Source> = {};
  const merged: Record<string, unknown> = structuredClone(DEFAULTS);
  problems.push(...readEnv(env, merged, sources));
  if (validator(merged)) return problems;
  const fromEnv = (e: ErrorObject): boolean => {
    const top = e.instancePath.split("/")[1];
    return top !== undefined && sources[top]?.kind === "env";
  };
  return [
    ...problems,
    ...collapse((validator.errors ?? []).filter(fromEnv)).map((e) => explain(e, merged, sources)),
  ];
}

/** A stage with logStderr in both places, set differently: the original's place wins. */
function logStderrWarnings(config: Record<string, unknown>): string[] {
  return STAGE_KEYS.flatMap((stage) => {
    const method = config[stage];
    if (!isObject(method) || !isObject(method["shell"])) return [];
    const nested = method["shell"]["logStderr"];
    const outer = method["logStderr"];
    if (typeof nested !== "boolean" || typeof outer !== "boolean" || nested === outer) return [];
    return [
      `${stage}.shell.logStderr (${String(nested)}) and ${stage}.logStderr (${String(outer)}) differ: ` +
        `${stage}.shell.logStderr, where the original reads it, wins`,
    ];
  });
}

/** Sets into config each known key the environment gives, noting env as its source; returns what did not parse. */
function readEnv(
  env: Readonly<Record<string, string | undefined>>,
  config: Record<string, unknown>,
  sources: Record<string, Source>,
): string[] {
  const problems: string[] = [];
  for (const key of KNOWN_KEYS) {
    const raw = env[key];
    if (raw === undefined) continue;
    const parsed = parseEnvValue(key, raw);
    if ("error" in parsed) problems.push(parsed.error);
    else config[key] = parsed.value;
    sources[key] = { kind: "env" };
  }
  return problems;
}

function parseEnvValue(key: string, raw: string): { value: unknown } | { error: string } {
  if (VERBATIM_KEYS.has(key)) return { value: raw };
  if (INTEGER_KEYS.has(key)) {
    if (!/^-?\d+$/.test(raw.trim()))
      return { error: `${key}: expected a whole number, got "${raw}" (from env var ${key})` };
    return { value: Number.parseInt(raw, 10) };
  }
  try {
    const [doc] = parseAllDocuments(raw);
    if (!doc || !("errors" in doc) || doc.errors.length > 0)
      throw new Error(doc && "errors" in doc ? doc.errors[0]?.message : "empty");
    return { value: doc.toJS() as unknown };
  } catch (err) {
    return {
      error: `${key}: could not parse "${truncate(raw)}" as YAML or JSON (from env var ${key}): ${String(err)}`,
    };
  }
}

// Compiled ahead of time from configSchema (`npm run gen`): no ajv at run time.
const validator: ValidateFunction = generatedValidator;

function schemaProblems(config: Record<string, unknown>, sources: Record<string, Source>): string[] {
  if (validator(config)) return [];
  return collapse(validator.errors ?? []).map((e) => explain(e, config, sources));
}

/** ajv reports every failed branch of an anyOf; keep the most specific errors. */
function collapse(errors: ErrorObject[]): ErrorObject[] {
  const byPath = new Map<string, ErrorObject[]>();
  for (const e of errors) byPath.set(e.instancePath, [...(byPath.get(e.instancePath) ?? []), e]);
  return errors.filter((e) => {
    if (e.keyword !== "anyOf") return true;
    // An anyOf error adds nothing when a branch's own error at a deeper path says more.
    return ![...byPath.keys()].some((p) => p.startsWith(`${e.instancePath}/`));
  });
}

function explain(
  error: ErrorObject,
  config: Record<string, unknown>,
  sources: Record<string, Source>,
): string {
  const segments = error.instancePath.split("/").slice(1);
  const top = segments[0] ?? (error.params as { missingProperty?: string }).missingProperty ?? "";
  const key = [
    ...segments,
    ...(error.keyword === "required" ? [(error.params as { missingProperty: string }).missingProperty] : []),
  ]
    .join(".")
    .replace(/\.(\d+)(?=\.|$)/g, "[$1]");
  const from = sourceText(top, sources[top]);
  if (error.keyword === "required") return `${key}: required but not set${from}${hint(key)}`;
  const value = valueAt(config, segments);
  return `${key}: ${error.message ?? "is invalid"}${expected(error)}, got ${describe(value)}${from}`;
}

function expected(error: ErrorObject): string {
  const p = error.params as { allowedValues?: unknown[] };
  return p.allowedValues ? ` (${p.allowedValues.map((v) => JSON.stringify(v)).join(", ")})` : "";
}

function sourceText(key: string, source: Source | undefined): string {
  if (!source) return "";
  if (source.kind === "env") return ` (from env var ${key})`;
  if (source.kind === "file") return ` (in ${source.path})`;
  return "";
}

function hint(key: string): string {
  if (key === "scaleTargetRef") {
    return "; the operator sets it from the CPA's spec.scaleTargetRef, or set it in the file or the env var scaleTargetRef";
  }
  return "";
}

function crossFieldProblems(config: Record<string, unknown>): string[] {
  return [...boundsProblems(config), ...methodProblems(config), ...apiProblems(config)];
}

function boundsProblems(config: Record<string, unknown>): string[] {
  const problems: string[] = [];
  const { minReplicas, maxReplicas } = config;
  if (typeof minReplicas === "number" && typeof maxReplicas === "number" && minReplicas > maxReplicas) {
    problems.push(`minReplicas (${minReplicas}) must not be greater than maxReplicas (${maxReplicas})`);
  }
  const stabilization = config["downscaleStabilization"];
  if (isObject(config["behavior"]) && typeof stabilization === "number" && stabilization > 0) {
    problems.push(
      "downscaleStabilization and behavior are both set: with behavior, use behavior.scaleDown.stabilizationWindowSeconds instead",
    );
  }
  return problems;
}

/** Every stage a config can define: the two methods and the six hooks. */
export const STAGE_KEYS = [
  "metric",
  "evaluate",
  "preMetric",
  "postMetric",
  "preEvaluate",
  "postEvaluate",
  "preScale",
  "postScale",
] as const;

/** The schema cannot tie a method's `type` to its block. */
function methodProblems(config: Record<string, unknown>): string[] {
  const problems: string[] = [];
  for (const stage of STAGE_KEYS) {
    const method = config[stage];
    if (!isObject(method) || typeof method["type"] !== "string") continue;
    const type = method["type"];
    if (["shell", "http", "module"].includes(type) && method[type] === undefined) {
      problems.push(`${stage}: type is "${type}" but the "${type}" block is missing`);
    }
  }
  return problems;
}

function apiProblems(config: Record<string, unknown>): string[] {
  const api = config["apiConfig"];
  if (!isObject(api) || api["enabled"] === false || api["useHTTPS"] !== true) return [];
  return api["certFile"] && api["keyFile"]
    ? []
    : ["apiConfig: useHTTPS is true but certFile and keyFile are not both set"];
}

function valueAt(obj: unknown, path: string[]): unknown {
  let cur = obj;
  for (const seg of path) {
    if (!isObject(cur) && !Array.isArray(cur)) return undefined;
    cur = (cur as Record<string, unknown>)[seg];
  }
  return cur;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function describe(value: unknown): string {
  if (value === undefined) return "nothing";
  const text = JSON.stringify(value);
  return truncate(text);
}

function truncate(text: string, max = 120): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}
