// How the local kubelet runs a Pod of an image it knows: as a local process
// (images.ts, pod-runner.ts) or as a real container of the built image
// (container-runner.ts). The demo and the end-to-end tests choose.
import type { KubeConfig, V1Pod } from "@kubernetes/client-node";
import type { LocalProcess, RunOptions } from "./pod-runner.ts";

export interface PodRunner {
  /** "process" or "container": for messages. */
  readonly mode: string;
  /** Whether this runner can run a Pod of this image. */
  has(image: string | undefined): Promise<boolean>;
  /** Starts the Pod's (first) container. */
  run(pod: V1Pod, admin: KubeConfig, opts: RunOptions): Promise<LocalProcess>;
}
