import { SPEC_DEFAULTS, type CustomPodAutoscalerSpec } from "../api/custom-pod-autoscaler.ts";

/** The provision flags with the original's effective defaults applied. */
export interface EffectiveFlags {
  provisionServiceAccount: boolean;
  provisionRole: boolean;
  provisionRoleBinding: boolean;
  provisionPod: boolean;
  roleRequiresMetricsServer: boolean;
  roleRequiresArgoRollouts: boolean;
  roleRequiresPodDeletionCost: boolean;
}

export function effectiveSpec(spec: CustomPodAutoscalerSpec): EffectiveFlags {
  return {
    provisionServiceAccount: spec.provisionServiceAccount ?? SPEC_DEFAULTS.provisionServiceAccount,
    provisionRole: spec.provisionRole ?? SPEC_DEFAULTS.provisionRole,
    provisionRoleBinding: spec.provisionRoleBinding ?? SPEC_DEFAULTS.provisionRoleBinding,
    provisionPod: spec.provisionPod ?? SPEC_DEFAULTS.provisionPod,
    roleRequiresMetricsServer: spec.roleRequiresMetricsServer ?? SPEC_DEFAULTS.roleRequiresMetricsServer,
    roleRequiresArgoRollouts: spec.roleRequiresArgoRollouts ?? SPEC_DEFAULTS.roleRequiresArgoRollouts,
    roleRequiresPodDeletionCost:
      spec.roleRequiresPodDeletionCost ?? SPEC_DEFAULTS.roleRequiresPodDeletionCost,
  };
}
