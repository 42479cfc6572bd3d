import assert from "node:assert/strict";
import { test } from "node:test";
import { inOrder } from "./cycle.ts";

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

test("inOrder runs at most `limit` at once and keeps the items' order", async () => {
  let running = 0;
  let most = 0;
  const out = await inOrder([30, 5, 20, 1, 10, 2], 3, async (ms) => {
    running++;
    most = Math.max(most, running);
    await tick(ms);
    running--;
    return `v${ms}`;
  });
  assert.deepEqual(out, ["v30", "v5", "v20", "v1", "v10", "v2"]);
  assert.equal(most, 3);
});

test("with a limit of 1, one after another (the original's order of runs)", async () => {
  const started: number[] = [];
  await inOrder([3, 2, 1], 1, async (n) => {
    started.push(n);
    await tick(n);
  });
  assert.deepEqual(started, [3, 2, 1]);
});

test("a failure fails the whole once the started runs end, and starts no more", async () => {
  const started: number[] = [];
  await assert.rejects(
    inOrder([1, 2, 3, 4, 5], 2, async (n) => {
      started.push(n);
      await tick(5);
      if (n === 2) throw new Error("pod 2's metric failed");
    }),
    /pod 2's metric failed/,
  );
  assert.ok(!started.includes(5), `started ${started.join(",")}`);
  assert.deepEqual(await inOrder([], 4, () => Promise.resolve(1)), []);
});
