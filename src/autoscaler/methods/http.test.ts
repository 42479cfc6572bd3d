import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TLSSocket } from "node:tls";
import { after, describe, test } from "node:test";
import { pino } from "pino";
import type { HttpConfig } from "../../api/autoscaler-config.ts";
import { httpRunner } from "./http.ts";
import { MethodError, type RunnerContext } from "./method.ts";

const limits = (timeoutMs: number) => ({ timeoutMs, maxOutputBytes: 16 * 1024 * 1024 });

const dir = mkdtempSync(join(tmpdir(), "cpa-http-"));
after(() => {
  rmSync(dir, { recursive: true, force: true });
});
const ctx: RunnerContext = { configDir: dir, log: pino({ level: "silent" }) };

interface Received {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  clientCn?: string;
}

type Reply = { status: number; body: string } | "never";

/** A real server on a free loopback port that records what it received and answers with `reply`. */
async function serve(
  reply: Reply,
  tls?: https.ServerOptions,
): Promise<{ url: string; received: Received[]; close: () => void }> {
  const received: Received[] = [];
  const handler: http.RequestListener = (req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const peer = tls ? (req.socket as TLSSocket).getPeerCertificate() : undefined;
      received.push({
        method: req.method ?? "",
        url: req.url ?? "",
        headers: req.headers,
        body: Buffer.concat(chunks).toString(),
        ...(peer?.subject ? { clientCn: String(peer.subject.CN) } : {}),
      });
      if (reply === "never") return;
      res.writeHead(reply.status, { "content-type": "text/plain" }).end(reply.body);
    });
  };
  const server = tls ? https.createServer(tls, handler) : http.createServer(handler);
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  return {
    url: `${tls ? "https" : "http"}://127.0.0.1:${port}`,
    received,
    close: () => {
      server.closeAllConnections();
      server.close();
    },
  };
}

/** A throwaway self-signed certificate for 127.0.0.1, made with openssl. */
function certificate(name: string, cn: string): { cert: string; key: string } {
  const cert = join(dir, `${name}.pem`);
  const key = join(dir, `${name}-key.pem`);
  execFileSync("openssl", [
    "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
    "-keyout", key, "-out", cert, "-days", "1", "-subj", `/CN=${cn}`, "-addext", "subjectAltName=IP:127.0.0.1",
  ], { stdio: "ignore" }); // prettier-ignore
  return { cert, key };
}

function config(url: string, extra: Partial<HttpConfig> = {}): HttpConfig {
  return { method: "GET", url, successCodes: [200], parameterMode: "query", ...extra };
}

async function methodError(promise: Promise<unknown>): Promise<MethodError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof MethodError, `expected a MethodError, got ${String(err)}`);
    return err;
  }
  return assert.fail("expected the run to fail");
}

const input = '{"resource":{"kind":"Deployment"},"runType":"scaler"}';

describe("http method", () => {
  test("query mode sends the input as the query parameter value, keeping the URL's own parameters", async () => {
    const server = await serve({ status: 200, body: " 5\n" });
    try {
      const runner = httpRunner(config(`${server.url}/metric?source=queue`), limits(2000), ctx);
      assert.equal(await runner.run(input), " 5\n", "the body comes back untrimmed");
      await runner.close?.();
      const [req] = server.received;
      assert.ok(req);
      assert.equal(req.method, "GET");
      const url = new URL(req.url, server.url);
      assert.equal(url.pathname, "/metric");
      assert.deepEqual(
        [...url.searchParams],
        [
          ["source", "queue"],
          ["value", input],
        ],
      );
      assert.equal(req.body, "");
    } finally {
      server.close();
    }
  });

  test("body mode sends the input as a JSON request body, with the configured headers", async () => {
    const server = await serve({ status: 200, body: '{"targetReplicas":3}' });
    try {
      const runner = httpRunner(
        config(`${server.url}/evaluate`, {
          method: "POST",
          parameterMode: "body",
          headers: { "x-api-key": "secret", "x-team": "scaling" },
        }),
        limits(2000),
        ctx,
      );
      assert.equal(await runner.run(input), '{"targetReplicas":3}');
      await runner.close?.();
      const [req] = server.received;
      assert.ok(req);
      assert.equal(req.method, "POST");
      assert.equal(req.url, "/evaluate");
      assert.equal(req.body, input);
      assert.equal(req.headers["content-type"], "application/json");
      assert.equal(req.headers["x-api-key"], "secret");
      assert.equal(req.headers["x-team"], "scaling");
    } finally {
      server.close();
    }
  });

  const statuses: { status: number; successCodes: number[]; ok: boolean }[] = [
    { status: 200, successCodes: [200], ok: true },
    { status: 202, successCodes: [200, 202], ok: true },
    { status: 201, successCodes: [200], ok: false },
    { status: 503, successCodes: [200], ok: false },
  ];
  for (const { status, successCodes, ok } of statuses) {
    test(`status ${status} with successCodes [${successCodes.join(", ")}] ${ok ? "succeeds" : "fails with code http-status"}`, async () => {
      const server = await serve({ status, body: "queue backend overloaded\n" });
      try {
        const run = httpRunner(config(`${server.url}/m`, { successCodes }), limits(2000), ctx).run(input);
        if (ok) {
          assert.equal(await run, "queue backend overloaded\n");
          return;
        }
        const err = await methodError(run);
        assert.equal(err.code, "http-status");
        assert.equal(err.message, `GET ${server.url}/m returned ${status}: queue backend overloaded`);
        assert.deepEqual(err.details, { status, body: "queue backend overloaded\n" });
      } finally {
        server.close();
      }
    });
  }

  test("a body past maxOutputBytes fails the stage, naming the limit", async () => {
    const server = await serve({ status: 200, body: "x".repeat(200_000) });
    try {
      const err = await methodError(
        httpRunner(config(server.url), { timeoutMs: 2000, maxOutputBytes: 100_000 }, ctx).run(input),
      );
      assert.equal(err.code, "output-too-large");
      assert.match(err.message, /more than 100000 bytes \(maxOutputBytes\)/);
      const whole = await httpRunner(
        config(server.url),
        { timeoutMs: 2000, maxOutputBytes: 200_000 },
        ctx,
      ).run(input);
      assert.equal(whole.length, 200_000);
    } finally {
      server.close();
    }
  });

  test("a port nobody listens on fails with code http-unreachable, naming the URL", async () => {
    const server = await serve({ status: 200, body: "" });
    server.close();
    const err = await methodError(httpRunner(config(`${server.url}/metric`), limits(2000), ctx).run(input));
    assert.equal(err.code, "http-unreachable");
    assert.match(err.message, new RegExp(`^could not reach ${server.url}/metric: .*ECONNREFUSED`));
  });

  test("a server that does not answer in time fails with code timeout", async () => {
    const server = await serve("never");
    try {
      const started = Date.now();
      const err = await methodError(httpRunner(config(`${server.url}/slow`), limits(200), ctx).run(input));
      assert.equal(err.code, "timeout");
      assert.equal(err.message, `GET ${server.url}/slow did not answer within 200 ms`);
      assert.ok(Date.now() - started < 1500);
    } finally {
      server.close();
    }
  });

  test("aborting the run rejects with the abort reason", async () => {
    const server = await serve("never");
    try {
      const controller = new AbortController();
      const run = httpRunner(config(server.url), limits(10_000), ctx).run(input, controller.signal);
      setTimeout(() => {
        controller.abort();
      }, 50);
      await assert.rejects(run, { name: "AbortError" });
    } finally {
      server.close();
    }
  });

  describe("over HTTPS", () => {
    const serverCert = certificate("server", "127.0.0.1");
    const clientCert = certificate("client", "cpa-client");
    const tls: https.ServerOptions = {
      cert: readFileSync(serverCert.cert),
      key: readFileSync(serverCert.key),
      ca: readFileSync(clientCert.cert),
      requestCert: true,
      rejectUnauthorized: false,
    };

    test("the server's certificate is trusted through caCert, relative to the config folder", async () => {
      const server = await serve({ status: 200, body: "7" }, tls);
      try {
        const runner = httpRunner(config(server.url, { caCert: "server.pem" }), limits(2000), ctx);
        assert.equal(await runner.run(input), "7");
        await runner.close?.();
        assert.equal(
          server.received[0]?.clientCn,
          undefined,
          "no client certificate without clientCert/clientKey",
        );
      } finally {
        server.close();
      }
    });

    test("without caCert a self-signed server certificate is refused", async () => {
      const server = await serve({ status: 200, body: "7" }, tls);
      try {
        const err = await methodError(httpRunner(config(server.url), limits(2000), ctx).run(input));
        assert.equal(err.code, "http-unreachable");
        assert.match(err.message, /self-signed certificate/);
      } finally {
        server.close();
      }
    });

    test("clientCert and clientKey present a client certificate", async () => {
      const server = await serve({ status: 200, body: "7" }, tls);
      try {
        const runner = httpRunner(
          config(server.url, {
            caCert: serverCert.cert,
            clientCert: clientCert.cert,
            clientKey: clientCert.key,
          }),
          limits(2000),
          ctx,
        );
        assert.equal(await runner.run(input), "7");
        await runner.close?.();
        assert.equal(server.received[0]?.clientCn, "cpa-client");
      } finally {
        server.close();
      }
    });

    test("a missing certificate file fails when the runner is created, naming the file", () => {
      assert.throws(
        () => httpRunner(config("https://127.0.0.1:1", { caCert: "missing-ca.pem" }), limits(2000), ctx),
        {
          message: `http.caCert: cannot read ${join(dir, "missing-ca.pem")}: no such file`,
        },
      );
    });
  });

  test("a URL that is not http or https fails when the runner is created", () => {
    assert.throws(() => httpRunner(config("ftp://example.com/x"), limits(2000), ctx), {
      message: 'http.url "ftp://example.com/x" must start with http:// or https://',
    });
  });
});
