// What many integration tests set up alike: the cluster bundle with its own
// operator Deployment stopped (the tests run the operator as a local process),
// and a Deployment of pause containers for a CPA to target.
import assert from "node:assert/strict";
import { kubectl } from "./kube.ts";
import { repoFile } from "./processes.ts";

/**
 * Applies config/cluster.yaml and scales its operator to 0: its Pods would only
 * be the fake node's, so the tests start the operator themselves. Resolves once
 * the CRD is established.
 */
export async function installBundleWithoutItsOperator(): Promise<void> {
  const res = await kubectl(["apply", "-f", repoFile("config", "cluster.yaml")]);
  assert.equal(res.code, 0, `kubectl apply -f config/cluster.yaml failed: ${res.stderr}`);
  await kubectl(["scale", "deployment/cpa-operator", "-n", "cpa-system", "--replicas=0"]);
  await kubectl(["wait", "--for=condition=Established", "crd/custompodautoscalers.custompodautoscaler.com"]);
}

/** A Deployment whose Pods run pause (the fake node pretends to): a target that costs nothing. */
export function pauseDeployment(
  name: string,
  opts: { replicas?: number; labels?: Record<string, string> } = {},
): object {
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name, ...(opts.labels ? { labels: opts.labels } : {}) },
    spec: {
      replicas: opts.replicas ?? 1,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: { containers: [{ name: "web", image: "registry.k8s.io/pause:3.10" }] },
      },
    },
  };
}
