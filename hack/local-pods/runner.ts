// How the local kubelet runs a Pod of an image it knows: as a local process
// (images.ts, pod-runner.ts) or as a real container of the built image
// (container-runner.ts). The demo and the end-to-end tests choose.
import type { KubeConfig, V1Pod } from "@kubernetes/client-node";
import type { LocalProcess, RunOptions } from "./pod-runner.ts";

export interface PodRunner {
  /** "process" or "container": for messages. */
  readonly mode: string;
  /** Whether Pods it runs get network namespaces of their own (containers do; processes cannot). */
  readonly ownNetwork: boolean;
  /** Whether it can pull images (containers can; local processes run only images known here). */
  readonly pulls: boolean;
  /** Whether the node's store holds this image (by its full name, image-ref.ts). */
  has(image: string | undefined): Promise<boolean>;
  /** Pulls `image` (from `source`, a mirror's name for it, when given) into the node's store; rejects with why not. */
  pull(image: string, source?: string): Promise<void>;
  /** Starts the Pod's (first) container. */
  run(pod: V1Pod, admin: KubeConfig, opts: RunOptions): Promise<LocalProcess>;
}
