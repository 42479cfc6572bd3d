import assert from "node:assert/strict";
import { test } from "node:test";
import { parseDryRun } from "./api.ts";

test("dry_run is read as Go's strconv.ParseBool reads it; absent or empty is false", () => {
  for (const yes of ["1", "t", "T", "true", "TRUE", "True"]) assert.equal(parseDryRun(yes), true);
  for (const no of [null, "", "0", "f", "F", "false", "FALSE", "False"]) assert.equal(parseDryRun(no), false);
  assert.deepEqual(parseDryRun("maybe"), {
    status: 400,
    message: "Invalid format for 'dry_run' query parameter; 'maybe' is not a valid boolean value",
  });
});

test("a run refused because another waits answers 429 with a JSON error and Retry-After", async () => {
  const { createServer } = await import("node:http");
  const { apiHandler } = await import("./api.ts");
  const { BusyError } = await import("./autoscaler.ts");
  const { createLogger } = await import("../lib/log.ts");
  const busy = { run: () => Promise.reject(new BusyError()), metrics: () => Promise.reject(new BusyError()) };
  const handler = apiHandler({
    autoscaler: busy as never,
    config: {} as never,
    log: createLogger("test", "silent"),
  });
  const server = createServer((req, res) => void handler(req, res));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  try {
    const address = server.address();
    const port = typeof address === "object" && address ? address.port : 0;
    for (const [method, path] of [
      ["POST", "/api/v1/evaluation"],
      ["GET", "/api/v1/metrics?dry_run=true"],
    ] as const) {
      const res = await fetch(`http://127.0.0.1:${port}${path}`, { method });
      assert.equal(res.status, 429);
      assert.equal(res.headers.get("retry-after"), "1");
      assert.deepEqual(await res.json(), {
        message: "another run is already waiting for its turn; try again once it has finished",
        code: 429,
      });
    }
  } finally {
    server.close();
  }
});
