// The target's replicas and pod selector, read from the object itself for the
// kinds whose /scale is a plain view of it, so a run costs one request, not two.
// For any other kind (custom resources map /scale through their CRD) the
// caller reads /scale.
import type { ResolvedResource } from "../kube/discovery.ts";
import { labelSelectorString } from "./k8smetrics/selector.ts";

export interface ScaleView {
  /** spec.replicas, as /scale's spec.replicas would say. */
  current: number;
  /** The pod selector, as /scale's status.selector would render it. */
  selector: string;
}

const APPS_WITH_LABEL_SELECTOR = new Set(["deployments", "statefulsets", "replicasets"]);

/** Whether the object of this resource shows what its /scale would. */
export function showsScale(resource: ResolvedResource): boolean {
  return (
    (resource.group === "apps" && APPS_WITH_LABEL_SELECTOR.has(resource.resource)) ||
    (resource.group === "" && resource.resource === "replicationcontrollers")
  );
}

/**
 * What /scale would answer, derived from the object, for Deployments,
 * StatefulSets, ReplicaSets and ReplicationControllers; undefined otherwise.
 * The apiserver defaults spec.replicas to 1 for these, so it is always set.
 */
export function scaleFromObject(
  resource: ResolvedResource,
  object: Record<string, unknown>,
): ScaleView | undefined {
  const spec = object["spec"];
  if (!spec || typeof spec !== "object") return undefined;
  const { replicas, selector } = spec as { replicas?: unknown; selector?: unknown };
  if (typeof replicas !== "number" || !showsScale(resource)) return undefined;
  // A ReplicationController's selector is a plain map: matchLabels, in effect.
  const labelSelector = resource.group === "" && selector ? { matchLabels: selector } : selector;
  return { current: replicas, selector: labelSelectorString(labelSelector) };
}
