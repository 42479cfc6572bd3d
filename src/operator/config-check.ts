// What the operator can tell of a CPA's spec.config before any Pod runs: the
// entries the runtime reads as configuration (interval, minReplicas, evaluate,
// ...), checked with the runtime's own parser and schema. The image's
// config.yaml, which only the runtime sees, may supply what is missing, so
// nothing here stops the Pod: it is reported as the ConfigValid condition and
// a Warning event.
import type { CustomPodAutoscaler } from "../api/custom-pod-autoscaler.ts";
import { envEntryProblems } from "../autoscaler/config.ts";

/** The problems of a CPA's spec.config entries, each on one line. Pure. */
export function configProblems(cpa: CustomPodAutoscaler): string[] {
  const env: Record<string, string> = {};
  for (const entry of cpa.spec.config ?? []) env[entry.name] = entry.value;
  return envEntryProblems(env).map((p) => p.split("\n")[0]?.replace(/:\s*$/, "") ?? p);
}
