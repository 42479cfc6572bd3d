import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { createLogger } from "../lib/log.ts";
import { FakeClock } from "../lib/fake-clock.ts";
import { KubeApiError, type CallOptions, type KubeClient, type StreamOptions } from "./http.ts";
import { Informer, SHORT_WATCH_MS } from "./informer.ts";
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
  lists: { items: KubeObject[]; resourceVersion: string }[] = [];
  listCalls = 0;
  watches: OpenWatch[] = [];

  request<T>(method: string, path: string, _options?: CallOptions): Promise<T> {
    this.listCalls++;
    const next = this.lists.shift();
    if (!next) return Promise.reject(new KubeApiError(method, path, 500, { message: "no list scripted" }));
    return Promise.resolve({ items: next.items, metadata: { resourceVersion: next.resourceVersion } } as T);
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

function setup() {
  const clock = new FakeClock();
  const api = new FakeApi();
  const informer = new Informer<KubeObject>({ http: api, path: "/api/v1/pods", log, clock });
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
});
