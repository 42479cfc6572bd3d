// One cache over several informers of one kind: one per namespace the
// operator manages (the namespaced install holds rights in those namespaces
// only, so it cannot list the kind cluster-wide), or a single cluster-wide one.
import type { Handler, Informer } from "./informer.ts";
import type { KubeObject } from "./objects.ts";

export class InformerGroup<T extends KubeObject> {
  readonly members: readonly Informer<T>[];

  constructor(members: readonly Informer<T>[]) {
    this.members = members;
  }

  onChange(handler: Handler<T>): void {
    for (const m of this.members) m.onChange(handler);
  }

  get(key: string): T | undefined {
    for (const m of this.members) {
      const found = m.get(key);
      if (found) return found;
    }
    return undefined;
  }

  list(): T[] {
    return this.members.flatMap((m) => m.list());
  }

  async run(signal: AbortSignal): Promise<void> {
    await Promise.all(this.members.map((m) => m.run(signal)));
  }

  async waitForSync(): Promise<void> {
    await Promise.all(this.members.map((m) => m.waitForSync()));
  }
}
