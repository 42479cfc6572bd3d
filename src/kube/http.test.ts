import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { after, describe, test } from "node:test";
import type { ClusterCredentials } from "./credentials.ts";
import { DrainingClient, KubeHttp } from "./http.ts";

/** A local HTTP server standing in for the apiserver; handle decides what it does with each request. */
async function server(handle: (req: IncomingMessage, res: ServerResponse) => void): Promise<{
  http: KubeHttp;
  server: Server;
}> {
  const s = createServer(handle);
  await new Promise<void>((resolve) => s.listen(0, "127.0.0.1", resolve));
  after(() => {
    s.closeAllConnections();
    s.close();
  });
  const address = s.address();
  const port = typeof address === "object" && address ? address.port : 0;
  const credentials: ClusterCredentials = {
    getCurrentCluster: () => ({ server: `http://127.0.0.1:${port}` }),
    applyToHTTPSOptions: () => Promise.resolve(),
  };
  return { http: new KubeHttp(credentials, { userAgent: "cpa-test/1.2.3 (host h)" }), server: s };
}

describe("KubeHttp", () => {
  test("a watch whose response headers never come fails after the header timeout", async () => {
    const { http } = await server(() => {
      // Accept the request, never answer: a dead connection behind a live socket.
    });
    const stop = new AbortController();
    await assert.rejects(
      http.stream("/api/v1/pods", {
        query: { watch: true },
        onLine: () => undefined,
        signal: stop.signal,
        idleMs: 60_000,
        headerTimeoutMs: 200,
      }),
      /no response headers within 200ms/,
    );
  });

  test("a watch that answers is not cut by the header timeout, however long it stays open", async () => {
    const { http } = await server((_req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.write('{"type":"BOOKMARK","object":{"metadata":{"resourceVersion":"1"}}}\n');
      setTimeout(() => res.end(), 400);
    });
    const lines: string[] = [];
    await http.stream("/api/v1/pods", {
      query: { watch: true },
      onLine: (l) => lines.push(l),
      signal: new AbortController().signal,
      idleMs: 60_000,
      headerTimeoutMs: 200,
    });
    assert.equal(lines.length, 1);
  });

  test("every request names the component in its User-Agent", async () => {
    let agent: string | undefined;
    const { http } = await server((req, res) => {
      agent = req.headers["user-agent"];
      res.writeHead(200, { "content-type": "application/json" }).end("{}");
    });
    await http.request("GET", "/api");
    assert.equal(agent, "cpa-test/1.2.3 (host h)");
  });

  test("a DELETE with a body does not spoil the keep-alive connection for the next request", async () => {
    const seen: string[] = [];
    const { http } = await server((req, res) => {
      let body = "";
      req.on("data", (c: Buffer) => (body += c.toString()));
      req.on("end", () => {
        seen.push(`${req.method ?? ""} ${body}`);
        res.writeHead(200, { "content-type": "application/json" }).end("{}");
      });
    });
    await http.request("DELETE", "/api/v1/namespaces/ns/pods/p", { body: { preconditions: { uid: "u" } } });
    await http.request("GET", "/api/v1/namespaces/ns/pods");
    assert.deepEqual(seen, ['DELETE {"preconditions":{"uid":"u"}}', "GET "]);
  });

  test("a draining client sends nothing once stopped, lets what was sent finish, and aborts it when cut", async () => {
    const answers: (() => void)[] = [];
    const seen: string[] = [];
    const { http } = await server((req, res) => {
      seen.push(`${req.method ?? ""} ${req.url ?? ""}`);
      answers.push(() => res.writeHead(200, { "content-type": "application/json" }).end("{}"));
    });
    const stop = new AbortController();
    const draining = new DrainingClient(http, stop.signal);
    const sent = draining.request("POST", "/api/v1/namespaces/ns/pods", { body: {} });
    const cutLater = draining.request("POST", "/api/v1/namespaces/ns/configmaps", { body: {} });
    while (seen.length < 2) await new Promise((resolve) => setTimeout(resolve, 5));
    stop.abort();
    await assert.rejects(draining.request("GET", "/api/v1/pods"), /stopping: the request was not sent/);
    answers[0]?.();
    assert.deepEqual(await sent, {}, "a request sent before the stop runs on to its answer");
    assert.equal(draining.settled, true);
    draining.cut();
    await assert.rejects(cutLater, (err: Error) => err.name === "KubeApiError");
    await draining.idle();
    assert.equal(draining.settled, false, "a request was cut in flight");
    assert.deepEqual(seen, ["POST /api/v1/namespaces/ns/pods", "POST /api/v1/namespaces/ns/configmaps"]);
  });

  test("a draining client aborts its streams when stopped", async () => {
    const { http } = await server((_req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.write("\n");
    });
    const stop = new AbortController();
    const watching = new DrainingClient(http, stop.signal).stream("/api/v1/pods", {
      query: { watch: true },
      onLine: () => undefined,
      signal: new AbortController().signal,
      idleMs: 60_000,
      onOpen: () => {
        stop.abort();
      },
    });
    await assert.rejects(watching);
  });
});
