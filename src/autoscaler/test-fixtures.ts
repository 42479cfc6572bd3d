// Fakes for the autoscaler's unit tests: a Deployment whose /scale the test
// can watch, and stages that answer from a script. Not loaded by cpa itself.
import type { StageRunner } from "./methods/method.ts";
import type { TargetClient, TargetState } from "./target.ts";

/** A metric stage answering from `outputs` in turn (an Error fails that run), and an evaluate stage asking for the metric's value. */
export function scriptedStages(outputs: (string | Error)[]): Record<string, StageRunner> {
  return {
    metric: {
      run: () => {
        const next = outputs.shift() ?? "1";
        return next instanceof Error ? Promise.reject(next) : Promise.resolve(next);
      },
    },
    evaluate: {
      run: (input) => {
        const { metrics } = JSON.parse(input) as { metrics: { value: string }[] };
        return Promise.resolve(JSON.stringify({ targetReplicas: Number(metrics[0]?.value) }));
      },
    },
  };
}

/** Deployment web at `current` replicas; every /scale write is kept in `writes` and moves `state.current`. */
export function fakeDeployment(current: number, namespace = "shop") {
  const state: TargetState = {
    resource: {
      group: "apps",
      version: "v1",
      resource: "deployments",
      kind: "Deployment",
      namespaced: true,
      scalable: true,
    },
    object: {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "web", namespace },
      spec: { replicas: current },
    },
    current,
    selector: "app=web",
  };
  const writes: number[] = [];
  const target = {
    read: () => Promise.resolve({ ...state }),
    pods: () => Promise.resolve([]),
    scale: (_r: unknown, replicas: number) => {
      writes.push(replicas);
      state.current = replicas;
      return Promise.resolve();
    },
  } as unknown as TargetClient;
  return { state, target, writes };
}
