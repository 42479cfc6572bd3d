// Reads what a run needs from the cluster: the target (any kind with /scale,
// resolved through discovery), its /scale, and, per pod, its pods.
import type { ScaleTargetRef } from "../api/custom-pod-autoscaler.ts";
import { DELETION_COST_ANNOTATION } from "../api/names.ts";
import type { Discovery, ResolvedResource } from "../kube/discovery.ts";
import { resourcePath } from "../kube/discovery.ts";
import type { KubeClient } from "../kube/http.ts";
import type { KubeObject } from "../kube/objects.ts";
import { objectPath, Pods, type Writer } from "../kube/writes.ts";
import { scaleFromObject, showsScale } from "./scale-of.ts";

export interface TargetState {
  resource: ResolvedResource;
  /** The target object as the API returned it: what the metric stage receives. */
  object: KubeObject & Record<string, unknown>;
  /** spec.replicas from /scale. */
  current: number;
  /** status.selector from /scale ("" selects every pod, as the original). */
  selector: string;
}

export class TargetClient {
  readonly #http: KubeClient;
  readonly #discovery: Discovery;
  readonly #writer: Writer;
  readonly #ref: ScaleTargetRef;
  readonly #namespace: string;

  constructor(
    http: KubeClient,
    discovery: Discovery,
    writer: Writer,
    ref: ScaleTargetRef,
    namespace: string,
  ) {
    this.#http = http;
    this.#discovery = discovery;
    this.#writer = writer;
    this.#ref = ref;
    this.#namespace = namespace;
  }

  get ref(): ScaleTargetRef {
    return this.#ref;
  }

  get namespace(): string {
    return this.#namespace;
  }

  async read(): Promise<TargetState> {
    const resource = await this.#discovery.resolve(this.#ref.apiVersion, this.#ref.kind);
    const getObject = this.#http.request<KubeObject & Record<string, unknown>>(
      "GET",
      objectPath(resource, this.#namespace, this.#ref.name),
    );
    if (showsScale(resource)) {
      const object = await getObject;
      const view = scaleFromObject(resource, object);
      if (view) return { resource, object, ...view };
    }
    // Other kinds map /scale through their CRD: read both, at once.
    const [object, scale] = await Promise.all([
      getObject,
      this.#writer.getScale(resource, this.#namespace, this.#ref.name),
    ]);
    return { resource, object, current: scale.spec.replicas ?? 0, selector: scale.status.selector ?? "" };
  }

  /** Pods selected by the target's /scale selector; an empty selector lists every pod (the original's quirk). */
  async pods(selector: string): Promise<(KubeObject & Record<string, unknown>)[]> {
    const list = await this.#http.request<{ items: (KubeObject & Record<string, unknown>)[] }>(
      "GET",
      resourcePath(Pods, this.#namespace),
      { query: { labelSelector: selector || undefined } },
    );
    // List items carry no kind or apiVersion; a Pod handed to the metric stage
    // should say what it is (the original left both out).
    return list.items.map((pod) => ({ apiVersion: "v1", kind: "Pod", ...pod }));
  }

  /** Sets or (null) removes a Pod's controller.kubernetes.io/pod-deletion-cost. */
  async setDeletionCost(pod: string, cost: string | null): Promise<void> {
    await this.#writer.annotate(Pods, this.#namespace, pod, DELETION_COST_ANNOTATION, cost);
  }

  async scale(resource: ResolvedResource, replicas: number): Promise<void> {
    await this.#writer.setReplicas(resource, this.#namespace, this.#ref.name, replicas);
  }
}
