import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { createLogger } from "../lib/log.ts";
import { FakeClock } from "../lib/fake-clock.ts";
import { KubeApiError, type CallOptions, type KubeClient, type StreamOptions } from "./http.ts";
import { Informer, listGate, SHORT_WATCH_MS, type InformerOptions } from "./informer.ts";
import type { KubeObject } from "./objects.ts";

const log = createLogger("test", "silent");

const pod = (name: string, rv: string): KubeObject => ({
  metadata: { name, namespace: "ns", resourceVersion: rv },
});

/** One open watch, driven by the test. */
interface OpenWatch {
  options: StreamOptions;
  event(type: string, object: object): void;
  end(): void;
  fail(err: Error): void;
}

/** An apiserver stand-in: lists answer from a queue, each watch is handed to the test. */
class FakeApi implements KubeClient {
  /** Each LIST's answer in turn: a page (continue set when more follow), or an error. */
  lists: ({ items: KubeObject[]; resourceVersion: string; continue?: string } | KubeApiError)[] = [];
  listCalls = 0;
  listQueries: CallOptions["query"][] = [];
  watches: OpenWatch[] = [];

  request<T>(method: string, path: string, options?: CallOptions): Promise<T> {
    this.listCalls++;
    this.listQueries.push(options?.query);
    const next = this.lists.shift();
    if (!next) return Promise.reject(new KubeApiError(method, path, 500, { message: "no list scripted" }));
    if (next instanceof KubeApiError) return Promise.reject(next);
    return Promise.resolve({
      items: next.items,
      metadata: {
        resourceVersion: next.resourceVersion,
        ...(next.continue ? { continue: next.continue } : {}),
      },
    } as T);
  }

  stream(_path: string, options: StreamOptions): Promise<void> {
    return new Promise((resolve, reject) => {
      options.onOpen?.();
      const watch: OpenWatch = {
        options,
        event: (type, object) => {
          try {
            options.onLine(JSON.stringify({ type, object }));
          } catch (err) {
            reject(err instanceof Error ? err : new Error(String(err)));
          }
        },
        end: resolve,
        fail: reject,
      };
      options.signal.addEventListener("abort", () => {
        reject(new Error("aborted"));
      });
      this.watches.push(watch);
    });
  }

  get last(): OpenWatch {
    const w = this.watches.at(-1);
    assert.ok(w, "no watch was opened");
    return w;
  }
}

const flush = async (): Promise<void> => {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
};

function setup(options: Partial<InformerOptions> = {}) {
  const clock = new FakeClock();
  const api = new FakeApi();
  const informer = new Informer<KubeObject>({ http: api, path: "/api/v1/pods", log, clock, ...options });
  const seen: string[] = [];
  informer.onChange((obj) => seen.push(obj.metadata?.name ?? ""));
  const stop = new AbortController();
  return { clock, api, informer, seen, stop, running: () => informer.run(stop.signal) };
}

const names = (informer: Informer<KubeObject>): string[] =>
  informer
    .list()
    .map((o) => o.metadata?.name ?? "")
    .sort();

describe("Informer", () => {
  test("lists, then watches from the list's resourceVersion, keeping the cache current", async () => {
    const { api, informer, seen, stop, running } = setup();
    api.lists.push({ items: [pod("a", "1")], resourceVersion: "10" });
    const done = running();
    await flush();
    assert.equal(informer.hasSynced(), true);
    assert.equal(api.last.options.query["resourceVersion"], "10");
    api.last.event("ADDED", pod("b", "11"));
    api.last.event("MODIFIED", pod("a", "12"));
    api.last.event("DELETED", pod("b", "13"));
    assert.deepEqual(names(informer), ["a"]);
    assert.equal(informer.get("ns/a")?.metadata?.resourceVersion, "12");
    assert.deepEqual(seen, ["a", "b", "a", "b"]);
    // A renewed watch resumes from the last event's resourceVersion.
    api.last.end();
    await flush();
    assert.equal(api.last.options.query["resourceVersion"], "13");
    stop.abort();
    await done;
  });

  test("410 Gone relists at once, and the relist drops (and reports) what vanished meanwhile", async () => {
    const { api, informer, seen, stop, running } = setup();
    api.lists.push({ items: [pod("a", "1"), pod("b", "2")], resourceVersion: "10" });
    api.lists.push({ items: [pod("a", "1")], resourceVersion: "50" });
    const done = running();
    await flush();
    seen.length = 0;
    api.last.event("ERROR", { kind: "Status", code: 410, message: "too old resource version" });
    await flush();
    assert.equal(api.listCalls, 2, "relisted without a backoff");
    assert.deepEqual(names(informer), ["a"]);
    assert.ok(seen.includes("b"), "the vanished object was not reported");
    assert.equal(api.last.options.query["resourceVersion"], "50");
    stop.abort();
    await done;
  });

  test("another ERROR event backs off, then watches again from where it was", async () => {
    const { clock, api, informer, stop, running } = setup();
    api.lists.push({ items: [], resourceVersion: "10" });
    const done = running();
    await flush();
    api.last.event("ADDED", pod("a", "11"));
    api.last.event("ERROR", { kind: "Status", code: 500, message: "internal error" });
    await flush();
    assert.equal(api.watches.length, 1, "retried without a backoff");
    assert.equal(informer.restarts, 1);
    clock.advance(500);
    await flush();
    assert.equal(api.watches.length, 2);
    assert.equal(api.last.options.query["resourceVersion"], "11");
    assert.equal(api.listCalls, 1, "an ordinary failure must not relist");
    stop.abort();
    await done;
  });

  test("a watch that ends at once with no event is a failure with backoff, not a hot loop", async () => {
    const { clock, api, stop, running } = setup();
    api.lists.push({ items: [], resourceVersion: "10" });
    const done = running();
    await flush();
    for (let i = 0; i < 5; i++) {
      api.last.end();
      await flush();
      clock.advance(SHORT_WATCH_MS - 1);
      await flush();
    }
    // Five immediate ends with doubling backoff (500, 1000, 2000, ... ms) open far fewer than five watches.
    assert.ok(api.watches.length <= 3, `${api.watches.length} watches in ${5 * SHORT_WATCH_MS} ms`);
    stop.abort();
    await done;
  });

  test("a watch that runs its course is renewed at once", async () => {
    const { clock, api, stop, running } = setup();
    api.lists.push({ items: [], resourceVersion: "10" });
    const done = running();
    await flush();
    clock.advance(300_000);
    api.last.end();
    await flush();
    assert.equal(api.watches.length, 2);
    stop.abort();
    await done;
  });

  test("reports how long its cache has gone without a working watch", async () => {
    const { clock, api, informer, stop, running } = setup();
    api.lists.push({ items: [], resourceVersion: "10" });
    const done = running();
    await flush();
    assert.equal(informer.staleFor(), 0);
    api.last.fail(new Error("connection reset"));
    await flush();
    clock.advance(400);
    assert.equal(informer.staleFor(), 400);
    clock.advance(100);
    await flush();
    assert.equal(informer.staleFor(), 0, "a reopened watch is current again");
    stop.abort();
    await done;
  });

  test("keeps only what the transform keeps", async () => {
    const clock = new FakeClock();
    const api = new FakeApi();
    const informer = new Informer<KubeObject>({
      http: api,
      path: "/api/v1/pods",
      log,
      clock,
      transform: (o) => ({
        metadata: { name: o.metadata?.name ?? "", namespace: o.metadata?.namespace ?? "" },
      }),
    });
    api.lists.push({
      items: [{ ...pod("a", "1"), spec: { big: "x".repeat(1000) } } as KubeObject],
      resourceVersion: "1",
    });
    const stop = new AbortController();
    const done = informer.run(stop.signal);
    await flush();
    assert.deepEqual(informer.get("ns/a"), { metadata: { name: "a", namespace: "ns" } });
    stop.abort();
    await done;
  });

  test("lists in pages of pageSize, following continue tokens, then watches from the list's resourceVersion", async () => {
    const { api, informer, stop, running } = setup({ pageSize: 2 });
    api.lists.push({ items: [pod("a", "1"), pod("b", "2")], resourceVersion: "10", continue: "t1" });
    api.lists.push({ items: [pod("c", "3")], resourceVersion: "10" });
    const done = running();
    await flush();
    assert.deepEqual(api.listQueries, [
      { labelSelector: undefined, limit: 2 },
      { labelSelector: undefined, limit: 2, continue: "t1" },
    ]);
    assert.deepEqual(names(informer), ["a", "b", "c"]);
    assert.equal(informer.hasSynced(), true, "synced only once the last page is in");
    assert.equal(api.last.options.query["resourceVersion"], "10");
    stop.abort();
    await done;
  });

  test("a continue token that expires mid-list (410) falls back to one full list; nothing is lost or doubled", async () => {
    const { api, informer, seen, stop, running } = setup({ pageSize: 2 });
    api.lists.push({ items: [pod("a", "1"), pod("b", "2")], resourceVersion: "10", continue: "t1" });
    api.lists.push(
      new KubeApiError("GET", "/api/v1/pods", 410, { reason: "Expired", message: "continue expired" }),
    );
    api.lists.push({ items: [pod("a", "1"), pod("c", "30")], resourceVersion: "40" });
    const done = running();
    await flush();
    assert.deepEqual(
      api.listQueries.at(-1),
      { labelSelector: undefined },
      "the fallback asks for everything at once",
    );
    assert.deepEqual(names(informer), ["a", "c"], "b, gone by the full list, is dropped");
    assert.ok(seen.includes("b"));
    assert.equal(api.last.options.query["resourceVersion"], "40");
    stop.abort();
    await done;
  });

  test("a 410 on the first page is not a continue token's: the list fails and is retried as any other", async () => {
    const { clock, api, informer, stop, running } = setup();
    api.lists.push(new KubeApiError("GET", "/api/v1/pods", 410, { message: "gone" }));
    api.lists.push({ items: [pod("a", "1")], resourceVersion: "5" });
    const done = running();
    await flush();
    clock.advance(1000);
    await flush();
    assert.deepEqual(names(informer), ["a"]);
    assert.equal(api.listCalls, 2);
    stop.abort();
    await done;
  });

  test("informers sharing a list gate list one at a time", async () => {
    const clock = new FakeClock();
    const gate = listGate();
    let open = 0;
    let most = 0;
    const answers: (() => void)[] = [];
    const slow: KubeClient = {
      request: <T>() => {
        open++;
        most = Math.max(most, open);
        return new Promise<T>((resolve) =>
          answers.push(() => {
            open--;
            resolve({ items: [], metadata: { resourceVersion: "1" } } as T);
          }),
        );
      },
      stream: (_path, options) =>
        new Promise((_resolve, reject) => {
          options.signal.addEventListener("abort", () => {
            reject(new Error("aborted"));
          });
        }),
    };
    const stop = new AbortController();
    const informers = ["pods", "roles", "secrets"].map(
      (r) => new Informer<KubeObject>({ http: slow, path: `/api/v1/${r}`, log, clock, listGate: gate }),
    );
    const done = informers.map((i) => i.run(stop.signal));
    for (let i = 0; i < 3; i++) {
      await flush();
      assert.equal(answers.length, i + 1, "the next list starts only once the one before is answered");
      answers[i]?.();
    }
    await flush();
    assert.equal(most, 1);
    assert.ok(informers.every((i) => i.hasSynced()));
    stop.abort();
    await Promise.all(done);
  });

  test("an index finds objects by value, and follows changes and deletions", async () => {
    const owned = (name: string, owner: string, rv: string): KubeObject => ({
      metadata: { name, namespace: "ns", resourceVersion: rv, ownerReferences: [{ uid: owner } as never] },
    });
    const byOwner = (o: KubeObject): string[] => (o.metadata?.ownerReferences ?? []).map((r) => r.uid);
    const { api, informer, stop, running } = setup({ indexers: { owner: byOwner } });
    api.lists.push({
      items: [owned("a", "u1", "1"), owned("b", "u1", "2"), owned("c", "u2", "3")],
      resourceVersion: "3",
    });
    const done = running();
    await flush();
    const under = (uid: string): string[] =>
      informer
        .byIndex("owner", uid)
        .map((o) => o.metadata?.name ?? "")
        .sort();
    assert.deepEqual(under("u1"), ["a", "b"]);
    api.last.event("MODIFIED", owned("b", "u2", "4"));
    api.last.event("DELETED", owned("a", "u1", "5"));
    assert.deepEqual(under("u1"), []);
    assert.deepEqual(under("u2"), ["b", "c"]);
    assert.throws(() => informer.byIndex("label", "x"), /no index label/);
    stop.abort();
    await done;
  });

  test("changes the relevant option calls irrelevant reach the cache but no handler; adds and deletes always do", async () => {
    const withStatus = (name: string, rv: string, generation: number): KubeObject => ({
      metadata: { name, namespace: "ns", resourceVersion: rv, generation },
    });
    const { api, informer, seen, stop, running } = setup({
      relevant: (old, next) => old.metadata?.generation !== next.metadata?.generation,
    });
    api.lists.push({ items: [withStatus("a", "1", 1)], resourceVersion: "1" });
    const done = running();
    await flush();
    seen.length = 0;
    api.last.event("MODIFIED", withStatus("a", "2", 1));
    assert.equal(informer.get("ns/a")?.metadata?.resourceVersion, "2", "the cache has the change");
    assert.deepEqual(seen, []);
    api.last.event("MODIFIED", withStatus("a", "3", 2));
    api.last.event("ADDED", withStatus("b", "4", 1));
    api.last.event("DELETED", withStatus("b", "5", 1));
    assert.deepEqual(seen, ["a", "b", "b"]);
    stop.abort();
    await done;
  });
});
