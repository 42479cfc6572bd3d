// Both stages as typed functions in one module, run inside the autoscaler.
// `cpa/types` describes the JSON each stage receives and returns.
import type { EvaluateFunction, MetricFunction } from "cpa/types";

/** Jobs per replica; set JOBS_PER_REPLICA in the CPA's spec.config to change it. */
const jobsPerReplica = Number(process.env["JOBS_PER_REPLICA"] ?? "5");

/** The queue length, here from the target's "example.com/queue-length" annotation. */
export const metric: MetricFunction = ({ resource }) => {
  return Number(resource.metadata?.annotations?.["example.com/queue-length"] ?? "0");
};

/** One replica per jobsPerReplica queued jobs. */
export const evaluate: EvaluateFunction = ({ metrics }) => {
  const queued = Number(metrics?.[0]?.value ?? "0");
  return { targetReplicas: Math.ceil(queued / jobsPerReplica) };
};
