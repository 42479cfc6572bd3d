import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { StatusLane } from "./status-lane.ts";

const flush = async (): Promise<void> => {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
};
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe("the status lane", () => {
  test("writes the latest status of each CPA once, not every one submitted", async () => {
    const written: string[] = [];
    let release: () => void = () => undefined;
    const lane = new StatusLane({
      write: async (key, status) => {
        written.push(`${key}=${JSON.stringify(status)}`);
        await new Promise<void>((r) => (release = r));
      },
      hold: () => false,
      retry: () => assert.fail("no write fails"),
      maxInFlight: 1,
    });
    lane.submit("ns/a", { v: 1 });
    lane.submit("ns/b", { v: 1 });
    lane.submit("ns/b", { v: 2 });
    lane.submit("ns/b", { v: 3 });
    await flush();
    release();
    await flush();
    release();
    await flush();
    assert.deepEqual(written, ['ns/a={"v":1}', 'ns/b={"v":3}']);
    await lane.stop();
  });

  test("holds writes while other work waits, at most maxHoldMs", async () => {
    const written: string[] = [];
    let busy = true;
    const lane = new StatusLane({
      write: (key) => {
        written.push(key);
        return Promise.resolve();
      },
      hold: () => busy,
      retry: () => undefined,
      maxHoldMs: 300,
      recheckMs: 20,
    });
    lane.submit("ns/a", {});
    await sleep(100);
    assert.deepEqual(written, [], "written while busy");
    await sleep(300);
    assert.deepEqual(written, ["ns/a"], "held past maxHoldMs");
    lane.submit("ns/b", {});
    busy = false;
    await sleep(50);
    assert.deepEqual(written, ["ns/a", "ns/b"]);
    await lane.stop();
  });

  test("a failed write is handed back for a retry; a stopped lane writes nothing", async () => {
    const retried: string[] = [];
    const lane = new StatusLane({
      write: () => Promise.reject(new Error("503")),
      hold: () => false,
      retry: (key) => retried.push(key),
    });
    lane.submit("ns/a", {});
    await flush();
    assert.deepEqual(retried, ["ns/a"]);
    await lane.stop();
    lane.submit("ns/b", {});
    await flush();
    assert.deepEqual(retried, ["ns/a"]);
  });
});
