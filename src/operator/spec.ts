import type { CustomPodAutoscalerSpec } from "../api/custom-pod-autoscaler.ts";

/** The provision flags with the original's effective defaults applied. */
export interface EffectiveFlags {
  provisionServiceAccount: boolean;
  provisionRole: boolean;
  provisionRoleBinding: boolean;
  provisionPod: boolean;
  roleRequiresMetricsServer: boolean;
  roleRequiresArgoRollouts: boolean;
}

export function effectiveSpec(spec: CustomPodAutoscalerSpec): EffectiveFlags {
  return {
    provisionServiceAccount: spec.provisionServiceAccount ?? true,
    provisionRole: spec.provisionRole ?? true,
    provisionRoleBinding: spec.provisionRoleBinding ?? true,
    provisionPod: spec.provisionPod ?? true,
    roleRequiresMetricsServer: spec.roleRequiresMetricsServer ?? false,
    roleRequiresArgoRollouts: spec.roleRequiresArgoRollouts ?? false,
  };
}
