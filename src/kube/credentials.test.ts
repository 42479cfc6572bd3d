import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import type { RequestOptions } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { InClusterCredentials } from "./credentials.ts";

test("in-cluster credentials: the service address, the mounted CA and a bearer token", async () => {
  const dir = mkdtempSync(join(tmpdir(), "cpa-sa-"));
  writeFileSync(join(dir, "ca.crt"), "CA");
  writeFileSync(join(dir, "token"), "tok-1\n");
  const creds = new InClusterCredentials(
    { KUBERNETES_SERVICE_HOST: "10.96.0.1", KUBERNETES_SERVICE_PORT: "443" },
    dir,
  );
  assert.equal(creds.getCurrentCluster().server, "https://10.96.0.1:443");
  const opts: RequestOptions = { headers: { accept: "application/json" } };
  await creds.applyToHTTPSOptions(opts);
  assert.equal(String(opts.ca), "CA");
  assert.deepEqual(opts.headers, { accept: "application/json", authorization: "Bearer tok-1" });
  const v6 = new InClusterCredentials(
    { KUBERNETES_SERVICE_HOST: "fd00::1", KUBERNETES_SERVICE_PORT: "6443" },
    dir,
  );
  assert.equal(v6.getCurrentCluster().server, "https://[fd00::1]:6443");
});

test("outside a cluster it says so", () => {
  assert.throws(() => new InClusterCredentials({}), /not in a cluster/);
});
