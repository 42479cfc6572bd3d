import type { CustomPodAutoscaler, CustomPodAutoscalerSpec } from "../../api/custom-pod-autoscaler.ts";
import type { ResolvedResource } from "../../kube/discovery.ts";

/** apps/v1 Deployments, as discovery resolves them: the fixture CPA's target kind. */
export const DEPLOYMENTS: ResolvedResource = {
  group: "apps",
  version: "v1",
  resource: "deployments",
  kind: "Deployment",
  namespaced: true,
  scalable: true,
};

/** The seed guide's cpa.yaml, as the apiserver returns it; override what a test varies. */
export function cpaFixture(
  spec: Partial<CustomPodAutoscalerSpec> = {},
  name = "python-custom-autoscaler",
): CustomPodAutoscaler {
  return {
    apiVersion: "custompodautoscaler.com/v1",
    kind: "CustomPodAutoscaler",
    metadata: { name, namespace: "team-a", uid: "1111-2222", generation: 1 },
    spec: {
      template: {
        spec: {
          containers: [
            {
              name: "python-custom-autoscaler",
              image: "python-custom-autoscaler:latest",
              imagePullPolicy: "IfNotPresent",
            },
          ],
        },
      },
      scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: "hello-kubernetes" },
      config: [{ name: "interval", value: "10000" }],
      ...spec,
    },
  };
}
