import type { V1ServiceAccount } from "@kubernetes/client-node";
import type { CustomPodAutoscaler } from "../../api/custom-pod-autoscaler.ts";
import { ownedMetadata } from "./meta.ts";

export function desiredServiceAccount(cpa: CustomPodAutoscaler): V1ServiceAccount {
  return { apiVersion: "v1", kind: "ServiceAccount", metadata: ownedMetadata(cpa) };
}
