// Writes to the API, each one request: create, server-side apply, delete with
// a uid precondition, status apply, and /scale. Callers decide whether to write.
import { resourcePath, type ResolvedResource } from "./discovery.ts";
import type { KubeClient } from "./http.ts";
import type { KubeObject } from "./objects.ts";

/** Where a kind we manage lives in the API. */
export interface ResourceType {
  group: string;
  version: string;
  resource: string;
}

/** Pods: the autoscaler lists its target's; the operator makes the autoscaler's. */
export const Pods: ResourceType = { group: "", version: "v1", resource: "pods" };
export const Events: ResourceType = { group: "", version: "v1", resource: "events" };

export function objectPath(type: ResourceType, namespace: string, name: string): string {
  return `${resourcePath(type, namespace)}/${encodeURIComponent(name)}`;
}

export interface Scale {
  spec: { replicas?: number };
  status: { replicas: number; selector?: string };
  metadata?: { resourceVersion?: string };
}

export class Writer {
  readonly #http: KubeClient;
  readonly #fieldManager: string;

  constructor(http: KubeClient, fieldManager: string) {
    this.#http = http;
    this.#fieldManager = fieldManager;
  }

  create<T extends KubeObject>(type: ResourceType, namespace: string, obj: T): Promise<T> {
    return this.#http.request<T>("POST", resourcePath(type, namespace), {
      body: obj,
      query: { fieldManager: this.#fieldManager },
    });
  }

  /** Server-side apply of the fields we own; force, as the sole owner of these objects. */
  apply<T extends KubeObject>(type: ResourceType, namespace: string, name: string, obj: T): Promise<T> {
    return this.#http.request<T>("PATCH", objectPath(type, namespace, name), {
      body: obj,
      contentType: "application/apply-patch+yaml",
      query: { fieldManager: this.#fieldManager, force: true },
    });
  }

  /** Server-side apply to the /status subresource. */
  applyStatus<T extends KubeObject>(collectionPath: string, name: string, obj: T): Promise<T> {
    return this.#http.request<T>("PATCH", `${collectionPath}/${encodeURIComponent(name)}/status`, {
      body: obj,
      contentType: "application/apply-patch+yaml",
      query: { fieldManager: this.#fieldManager, force: true },
    });
  }

  /** Deletes exactly the object with this uid; a newer namesake is left alone. */
  async delete(type: ResourceType, namespace: string, name: string, uid: string | undefined): Promise<void> {
    await this.#http.request("DELETE", objectPath(type, namespace, name), {
      body: { kind: "DeleteOptions", apiVersion: "v1", ...(uid ? { preconditions: { uid } } : {}) },
    });
  }

  /** Sets (a string) or removes (null) one annotation, with a merge patch that touches nothing else. */
  annotate(
    type: ResourceType,
    namespace: string,
    name: string,
    key: string,
    value: string | null,
  ): Promise<unknown> {
    return this.#http.request("PATCH", objectPath(type, namespace, name), {
      body: { metadata: { annotations: { [key]: value } } },
      contentType: "application/merge-patch+json",
      query: { fieldManager: this.#fieldManager },
    });
  }

  getScale(target: ResolvedResource, namespace: string, name: string): Promise<Scale> {
    return this.#http.request<Scale>("GET", `${objectPath(target, namespace, name)}/scale`);
  }

  /** Sets spec.replicas through /scale, as the original does (a JSON patch). */
  setReplicas(target: ResolvedResource, namespace: string, name: string, replicas: number): Promise<Scale> {
    return this.#http.request<Scale>("PATCH", `${objectPath(target, namespace, name)}/scale`, {
      body: [{ op: "replace", path: "/spec/replicas", value: replicas }],
      contentType: "application/json-patch+json",
      query: { fieldManager: this.#fieldManager },
    });
  }
}
