// One cache over several informers of one kind: one per namespace the
// operator manages (the namespaced install holds rights in those namespaces
// only, so it cannot list the kind cluster-wide), or a single cluster-wide one.
import type { Handler, Informer } from "./informer.ts";
import type { KubeObject } from "./objects.ts";

export class InformerGroup<T extends KubeObject> {
  readonly members: readonly Informer<T>[];
  /** Each member by the namespace it watches; empty for one cluster-wide member. */
  readonly #byNamespace: ReadonlyMap<string, Informer<T>>;

  /** One informer per namespace, or a single cluster-wide one (namespace undefined). */
  constructor(members: readonly (readonly [namespace: string | undefined, informer: Informer<T>])[]) {
    this.members = members.map(([, informer]) => informer);
    this.#byNamespace = new Map(
      members.flatMap(([namespace, informer]) => (namespace === undefined ? [] : [[namespace, informer]])),
    );
  }

  onChange(handler: Handler<T>): void {
    for (const m of this.members) m.onChange(handler);
  }

  /** By `namespace/name`, from the informer of that namespace. */
  get(key: string): T | undefined {
    if (this.#byNamespace.size === 0) return this.members[0]?.get(key);
    return this.#byNamespace.get(key.slice(0, key.indexOf("/")))?.get(key);
  }

  list(): T[] {
    return this.members.flatMap((m) => m.list());
  }

  /** The cached objects an indexer maps to value, from every member. */
  byIndex(index: string, value: string): T[] {
    return this.members.flatMap((m) => m.byIndex(index, value));
  }

  async run(signal: AbortSignal): Promise<void> {
    await Promise.all(this.members.map((m) => m.run(signal)));
  }

  async waitForSync(): Promise<void> {
    await Promise.all(this.members.map((m) => m.waitForSync()));
  }
}
