// The thin transport on the real apiserver.
import assert from "node:assert/strict";
import diagnostics from "node:diagnostics_channel";
import { test } from "node:test";
import { KubeHttp } from "../../src/kube/http.ts";
import { adminConfig } from "../support/kube.ts";

test("sequential requests share one kept-alive TLS connection", async () => {
  const http = new KubeHttp(adminConfig());
  let sockets = 0;
  const onSocket = (): void => {
    sockets++;
  };
  diagnostics.subscribe("net.client.socket", onSocket);
  try {
    for (let i = 0; i < 20; i++) await http.request("GET", "/api/v1/namespaces/default");
  } finally {
    diagnostics.unsubscribe("net.client.socket", onSocket);
  }
  // client-node's KubeConfig makes a new agent per request: without our own, this is 20.
  assert.equal(sockets, 1);
});
