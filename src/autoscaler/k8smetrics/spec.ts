// Reads one autoscaling/v2 MetricSpec from kubernetesMetricSpecs into what the
// gatherer needs, refusing what the original could not gather either (with
// the original's rules: Resource takes Utilization or AverageValue, Pods only
// AverageValue, Object and External Value or AverageValue).
import { KubernetesMetricError } from "./errors.ts";
import { labelSelectorString, SelectorError } from "./selector.ts";

export type ResourceTarget = "Utilization" | "AverageValue";
export type ValueTarget = "Value" | "AverageValue";

export interface ResourceSpec {
  type: "Resource";
  /** cpu, memory... */
  resource: string;
  target: ResourceTarget;
}

export interface PodsSpec {
  type: "Pods";
  metric: string;
  /** The metric's label selector as a string ("" for none). */
  metricSelector: string;
}

export interface DescribedObject {
  apiVersion: string;
  kind: string;
  name: string;
}

export interface ObjectSpec {
  type: "Object";
  metric: string;
  metricSelector: string;
  target: ValueTarget;
  describedObject: DescribedObject;
}

export interface ExternalSpec {
  type: "External";
  metric: string;
  metricSelector: string;
  target: ValueTarget;
}

export type ParsedSpec = ResourceSpec | PodsSpec | ObjectSpec | ExternalSpec;

/** A short name for messages: "Resource metric cpu", "Object metric hits on Ingress main". */
export function describeSpec(spec: unknown): string {
  const s = isObject(spec) ? spec : {};
  const type = typeof s["type"] === "string" && s["type"] !== "" ? s["type"] : "untyped";
  const source = child(s, sourceKey(type));
  const name = type.endsWith("Resource") ? source["name"] : child(source, "metric")["name"];
  const object = child(source, "describedObject");
  const { kind, name: objectName } = object;
  const on =
    type === "Object" && typeof kind === "string" && typeof objectName === "string"
      ? ` on ${kind} ${objectName}`
      : "";
  return typeof name === "string" ? `${type} metric ${name}${on}` : `${type} metric`;
}

/** Throws KubernetesMetricError (InvalidMetricSpec) naming the field at fault. */
export function parseMetricSpec(spec: unknown): ParsedSpec {
  if (!isObject(spec)) throw invalid(`a metric spec must be an object, got ${JSON.stringify(spec)}`);
  const type = spec["type"];
  switch (type) {
    case "Resource":
      return parseResource(spec);
    case "Pods":
      return parsePods(spec);
    case "Object":
      return parseObject(spec);
    case "External":
      return parseExternal(spec);
    case "ContainerResource":
      throw invalid(
        "ContainerResource metrics are not supported (nor were they by the original): use a Resource metric, " +
          "which sums every container of the pod",
      );
    default:
      throw invalid(
        `type must be one of Resource, Pods, Object, External, got ${JSON.stringify(type ?? null)}`,
      );
  }
}

function parseResource(spec: Record<string, unknown>): ResourceSpec {
  const source = requireObject(spec, "resource");
  const resource = requireString(source, "resource.name");
  const target = targetType(source, "resource", ["Utilization", "AverageValue"]);
  return { type: "Resource", resource, target };
}

function parsePods(spec: Record<string, unknown>): PodsSpec {
  const source = requireObject(spec, "pods");
  const { metric, metricSelector } = metricIdentifier(source, "pods");
  targetType(source, "pods", ["AverageValue"]);
  return { type: "Pods", metric, metricSelector };
}

function parseObject(spec: Record<string, unknown>): ObjectSpec {
  const source = requireObject(spec, "object");
  const { metric, metricSelector } = metricIdentifier(source, "object");
  const target = targetType(source, "object", ["Value", "AverageValue"]);
  const described = requireObject(source, "object.describedObject");
  const apiVersion = described["apiVersion"] ?? "";
  if (typeof apiVersion !== "string") throw invalid("object.describedObject.apiVersion must be a string");
  const describedObject = {
    apiVersion,
    kind: requireString(described, "object.describedObject.kind"),
    name: requireString(described, "object.describedObject.name"),
  };
  return { type: "Object", metric, metricSelector, target, describedObject };
}

function parseExternal(spec: Record<string, unknown>): ExternalSpec {
  const source = requireObject(spec, "external");
  const { metric, metricSelector } = metricIdentifier(source, "external");
  const target = targetType(source, "external", ["Value", "AverageValue"]);
  return { type: "External", metric, metricSelector, target };
}

function metricIdentifier(
  source: Record<string, unknown>,
  path: string,
): { metric: string; metricSelector: string } {
  const identifier = requireObject(source, `${path}.metric`);
  const metric = requireString(identifier, `${path}.metric.name`);
  try {
    return { metric, metricSelector: labelSelectorString(identifier["selector"]) };
  } catch (err) {
    if (err instanceof SelectorError) throw invalid(`${path}.metric.selector: ${err.message}`);
    throw err;
  }
}

function targetType<T extends string>(source: Record<string, unknown>, path: string, allowed: T[]): T {
  const target = requireObject(source, `${path}.target`);
  const type = target["type"];
  if (typeof type === "string" && (allowed as string[]).includes(type)) return type as T;
  throw invalid(`${path}.target.type must be ${allowed.join(" or ")}, got ${JSON.stringify(type ?? null)}`);
}

function requireObject(parent: Record<string, unknown>, path: string): Record<string, unknown> {
  const value = parent[path.slice(path.lastIndexOf(".") + 1)];
  if (!isObject(value)) throw invalid(`${path} is required (an object)`);
  return value;
}

function requireString(parent: Record<string, unknown>, path: string): string {
  const value = parent[path.slice(path.lastIndexOf(".") + 1)];
  if (typeof value !== "string" || value === "") throw invalid(`${path} is required (a string)`);
  return value;
}

/** The MetricSpec field holding the source: "Resource" → resource, "ContainerResource" → containerResource. */
function sourceKey(type: string): string {
  return type.charAt(0).toLowerCase() + type.slice(1);
}

function child(parent: Record<string, unknown>, key: string): Record<string, unknown> {
  const value = parent[key];
  return isObject(value) ? value : {};
}

function invalid(message: string): KubernetesMetricError {
  return new KubernetesMetricError("InvalidMetricSpec", message);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
