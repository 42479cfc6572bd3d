import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { FakeClock } from "../lib/fake-clock.ts";
import { runWorkers, SLOW_BASE_MS, WorkQueue, type WorkQueueOptions } from "./work-queue.ts";

function setup(options: WorkQueueOptions = {}): { queue: WorkQueue; clock: FakeClock } {
  const clock = new FakeClock();
  return { queue: new WorkQueue({ clock, ...options }), clock };
}

/** Lets pending promise callbacks run. */
function flush(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Takes every queued key without waiting. */
async function drain(queue: WorkQueue): Promise<string[]> {
  const keys: string[] = [];
  while (queue.len() > 0) {
    const key = await queue.get();
    if (key !== undefined) keys.push(key);
  }
  return keys;
}

describe("WorkQueue", () => {
  test("adding a key that is already queued does nothing", async () => {
    const { queue } = setup();
    for (const key of ["a", "b", "a", "c", "b"]) queue.add(key);
    assert.equal(queue.len(), 3);
    assert.deepEqual(await drain(queue), ["a", "b", "c"]);
  });

  test("a key added while it is processed is handed out again only after done", async () => {
    const { queue } = setup();
    queue.add("a");
    assert.equal(await queue.get(), "a");
    queue.add("a");
    queue.add("a");
    assert.equal(queue.len(), 0, "must not be handed to a second worker while processing");
    queue.done("a");
    assert.equal(queue.len(), 1);
    assert.equal(await queue.get(), "a");
    queue.done("a");
    assert.equal(queue.len(), 0);
  });

  test("get waits for the next add", async () => {
    const { queue } = setup();
    let got: string | undefined;
    const waiting = queue.get().then((key) => (got = key));
    await flush();
    assert.equal(got, undefined);
    queue.add("a");
    await waiting;
    assert.equal(got, "a");
    queue.add("a");
    assert.equal(queue.len(), 0, "a key handed to a waiting get is processing at once");
  });

  const delays: { name: string; delays: number[]; due: number }[] = [
    { name: "a single delayed add fires after its delay", delays: [1000], due: 1000 },
    { name: "a later, sooner add wins over an earlier, later one", delays: [5000, 1000], due: 1000 },
    { name: "a later, later add does not push back an earlier, sooner one", delays: [1000, 5000], due: 1000 },
    { name: "a zero delay adds at once", delays: [0], due: 0 },
    { name: "a negative delay adds at once", delays: [-5], due: 0 },
  ];
  for (const { name, delays: list, due } of delays) {
    test(name, async () => {
      const { queue, clock } = setup();
      for (const ms of list) queue.addAfter("a", ms);
      assert.ok(clock.pending() <= 1, "at most one timer per key");
      if (due > 0) {
        clock.advance(due - 1);
        assert.equal(queue.len(), 0, "not queued before it is due");
      }
      clock.advance(1);
      assert.equal(queue.len(), 1);
      clock.advance(10_000);
      assert.deepEqual(await drain(queue), ["a"], "added once, however many timers were asked for");
    });
  }

  test("a delayed add of a key that is already queued is absorbed", async () => {
    const { queue, clock } = setup();
    queue.add("a");
    queue.addAfter("a", 100);
    clock.advance(100);
    assert.deepEqual(await drain(queue), ["a"]);
  });

  const backoffs: { name: string; options: WorkQueueOptions; expected: number[] }[] = [
    {
      name: "rate-limited adds back off from 500 ms, doubling, capped at 5 minutes",
      options: {},
      expected: [500, 1000, 2000, 4000, 8000, 16_000, 32_000, 64_000, 128_000, 256_000, 300_000, 300_000],
    },
    {
      name: "rate-limited adds honour a custom base and cap",
      options: { baseDelayMs: 10, maxDelayMs: 50 },
      expected: [10, 20, 40, 50, 50],
    },
  ];
  for (const { name, options, expected } of backoffs) {
    test(name, async () => {
      const { queue, clock } = setup(options);
      for (const [failures, delay] of expected.entries()) {
        assert.equal(queue.numRequeues("a"), failures);
        queue.addRateLimited("a");
        clock.advance(delay - 1);
        assert.equal(queue.len(), 0, `failure ${failures + 1} must wait ${delay} ms`);
        clock.advance(1);
        assert.deepEqual(await drain(queue), ["a"]);
        queue.done("a");
      }
    });
  }

  test("forget resets the backoff of one key only", async () => {
    const { queue, clock } = setup();
    for (const key of ["a", "a", "a", "b"]) queue.addRateLimited(key);
    queue.forget("a");
    assert.equal(queue.numRequeues("a"), 0);
    assert.equal(queue.numRequeues("b"), 1);
    clock.advance(500);
    for (const key of await drain(queue)) queue.done(key);
    queue.addRateLimited("a");
    queue.addRateLimited("b");
    clock.advance(500);
    assert.deepEqual(await drain(queue), ["a"], "a starts again from the base delay, b waits 1000 ms");
  });

  test("shutting down wakes waiting workers, cancels timers and ignores new keys", async () => {
    const { queue, clock } = setup();
    const waiting = [queue.get(), queue.get()];
    await flush();
    queue.addAfter("later", 1000);
    queue.shutDown();
    assert.deepEqual(await Promise.all(waiting), [undefined, undefined]);
    assert.equal(clock.pending(), 0);
    queue.add("a");
    queue.addAfter("b", 10);
    queue.addRateLimited("c");
    clock.advance(10_000);
    assert.equal(queue.len(), 0);
    assert.equal(await queue.get(), undefined);
  });

  test("shutting down hands out no more keys, not even those already queued", async () => {
    const { queue } = setup();
    queue.add("a");
    queue.add("b");
    queue.shutDown();
    assert.equal(await queue.get(), undefined);
    assert.equal(queue.len(), 0);
  });
});

describe("runWorkers", () => {
  test("a shut-down queue lets in-flight keys finish and starts no queued ones", async () => {
    const { queue } = setup();
    const started: string[] = [];
    let release: () => void = () => undefined;
    const running = runWorkers(
      queue,
      1,
      async (key) => {
        started.push(key);
        await new Promise<void>((resolve) => (release = resolve));
      },
      () => assert.fail("no handler fails"),
    );
    queue.add("a");
    queue.add("b");
    queue.add("c");
    await flush();
    assert.deepEqual(started, ["a"]);
    queue.shutDown();
    release();
    await running;
    assert.deepEqual(started, ["a"], "b and c were queued but must not start after shutdown");
  });

  test("processes every key and resolves once the queue shuts down", async () => {
    const { queue } = setup();
    const seen: string[] = [];
    const running = runWorkers(
      queue,
      3,
      async (key) => {
        seen.push(key);
        await flush();
      },
      () => assert.fail("no handler fails"),
    );
    for (const key of ["a", "b", "c", "d", "e"]) queue.add(key);
    await flush();
    await flush();
    queue.shutDown();
    await running;
    assert.deepEqual(seen.sort(), ["a", "b", "c", "d", "e"]);
  });

  test("a key is never processed by two workers at once", async () => {
    const { queue } = setup();
    let active = 0;
    let maxActive = 0;
    let passes = 0;
    let release: () => void = () => undefined;
    const running = runWorkers(
      queue,
      4,
      async () => {
        passes++;
        active++;
        maxActive = Math.max(maxActive, active);
        await new Promise<void>((resolve) => (release = resolve));
        active--;
      },
      () => assert.fail("no handler fails"),
    );
    queue.add("a");
    await flush();
    queue.add("a");
    queue.add("a");
    await flush();
    assert.equal(active, 1);
    release();
    await flush();
    assert.equal(passes, 2, "the adds during the first pass collapse into one more pass");
    release();
    await flush();
    queue.shutDown();
    await running;
    assert.equal(maxActive, 1);
    assert.equal(passes, 2);
  });

  test("a failing handler is reported, backs off, and does not stop the worker", async () => {
    const { queue, clock } = setup();
    const errors: string[] = [];
    let calls = 0;
    const running = runWorkers(
      queue,
      1,
      async (key) => {
        await flush();
        calls++;
        if (calls <= 2) throw new Error(`boom ${calls}`);
        if (key === "a") queue.add("b");
      },
      (key, err) => errors.push(`${key}: ${err instanceof Error ? err.message : "?"}`),
    );
    queue.add("a");
    await flush();
    await flush();
    assert.deepEqual(errors, ["a: boom 1"]);
    assert.equal(queue.numRequeues("a"), 1);
    clock.advance(499);
    await flush();
    assert.equal(calls, 1, "retried only after the backoff");
    clock.advance(1);
    await flush();
    await flush();
    assert.deepEqual(errors, ["a: boom 1", "a: boom 2"]);
    clock.advance(1000);
    await flush();
    await flush();
    await flush();
    assert.equal(calls, 4, "the third pass of a succeeds and the worker goes on to b");
    assert.equal(queue.numRequeues("a"), 0, "success forgets the failures");
    queue.shutDown();
    await running;
  });

  test("a handler can ask to be called again later without counting a failure", async () => {
    const { queue, clock } = setup();
    let calls = 0;
    const running = runWorkers(
      queue,
      1,
      async () => {
        await flush();
        calls++;
        return calls === 1 ? { requeueAfterMs: 30_000 } : undefined;
      },
      () => assert.fail("no handler fails"),
    );
    queue.add("a");
    await flush();
    await flush();
    assert.equal(calls, 1);
    assert.equal(queue.numRequeues("a"), 0);
    clock.advance(29_999);
    await flush();
    assert.equal(calls, 1);
    clock.advance(1);
    await flush();
    await flush();
    assert.equal(calls, 2);
    clock.advance(60_000);
    await flush();
    assert.equal(calls, 2, "no requeue was asked for the second time");
    queue.shutDown();
    await running;
  });
  test("a pass that returns backOff comes back after its backoff, capped by requeueAfterMs, and a clean pass resets it", async () => {
    const { queue, clock } = setup();
    let problems = 4;
    const passes: number[] = [];
    const running = runWorkers(
      queue,
      1,
      async () => {
        passes.push(clock.now());
        await flush();
        return problems-- > 0 ? { requeueAfterMs: 3000, backOff: true } : undefined;
      },
      () => assert.fail("no handler fails"),
    );
    queue.add("a");
    // 500, 1000, 2000, then 3000 (not 4000): the cap; then the clean pass.
    for (const wait of [0, 500, 1000, 2000, 3000]) {
      clock.advance(wait);
      for (let i = 0; i < 4; i++) await flush();
    }
    const start = passes[0] ?? 0;
    assert.deepEqual(
      passes.map((t) => t - start),
      [0, 500, 1500, 3500, 6500],
    );
    assert.equal(queue.numRequeues("a"), 0, "the clean pass forgot the backoff");
    queue.shutDown();
    await running;
  });

  test("a terminal pass comes back on the slow backoff, from 30 s doubling up to requeueAfterMs, beyond the queue's maximum", async () => {
    const { queue, clock } = setup();
    const passes: number[] = [];
    const running = runWorkers(
      queue,
      1,
      async () => {
        passes.push(clock.now());
        await flush();
        return { requeueAfterMs: 10 * 60_000, terminal: true };
      },
      () => assert.fail("no handler fails"),
    );
    queue.add("a");
    for (const wait of [0, SLOW_BASE_MS, 60_000, 120_000, 240_000, 480_000, 600_000]) {
      clock.advance(wait);
      for (let i = 0; i < 4; i++) await flush();
    }
    const start = passes[0] ?? 0;
    assert.deepEqual(
      passes.map((t) => (t - start) / 1000),
      [0, 30, 90, 210, 450, 930, 1530],
    );
    // An event (the CPA changed) brings it at once, and forget() starts the backoff afresh.
    queue.forget("a");
    queue.add("a");
    for (let i = 0; i < 4; i++) await flush();
    assert.equal(passes.length, 8);
    clock.advance(SLOW_BASE_MS);
    for (let i = 0; i < 4; i++) await flush();
    assert.equal(passes.length, 9, "back to the first step of the slow backoff");
    queue.shutDown();
    await running;
  });
});
