// A small HTTP proxy in front of the apiserver that can fail chosen requests:
// a client pointed at it (a kubeconfig with its URL and a bearer token) sees
// the apiserver, except where a rule says to answer with an error instead.
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from "node:http";
import { Agent, request as httpsRequest } from "node:https";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { KubeConfig } from "@kubernetes/client-node";
import { stringify } from "yaml";
import type { OnCleanup } from "./processes.ts";

export interface FaultRule {
  method: string;
  /** Matched against the path (query string excluded). */
  path: RegExp;
  status: number;
}

export interface FaultProxy {
  url: string;
  /** Requests answered with an error so far, by rule. */
  failed: number;
  /** Fails matching requests from now on, until clear(). */
  fail(rule: FaultRule): void;
  clear(): void;
  /** A kubeconfig that reaches the apiserver through the proxy with this token. */
  kubeconfig(token: string, namespace: string): string;
}

export async function startFaultProxy(onCleanup: OnCleanup, admin: KubeConfig): Promise<FaultProxy> {
  const cluster = admin.getCurrentCluster();
  if (!cluster?.caData) throw new Error("the admin kubeconfig has no cluster CA");
  const upstream = new URL(cluster.server);
  const agent = new Agent({ keepAlive: true, ca: Buffer.from(cluster.caData, "base64") });
  let rules: FaultRule[] = [];
  const proxy = {
    url: "",
    failed: 0,
    fail: (rule: FaultRule) => {
      rules.push(rule);
    },
    clear: () => {
      rules = [];
    },
    kubeconfig: (token: string, namespace: string): string => {
      const file = join(mkdtempSync(join(tmpdir(), "cpa-proxy-")), "kubeconfig");
      writeFileSync(
        file,
        stringify({
          apiVersion: "v1",
          kind: "Config",
          // client-node sends a token over plain HTTP only when told TLS is not checked.
          clusters: [{ name: "proxy", cluster: { server: proxy.url, "insecure-skip-tls-verify": true } }],
          users: [{ name: "u", user: { token } }],
          contexts: [{ name: "proxy", context: { cluster: "proxy", user: "u", namespace } }],
          "current-context": "proxy",
        }),
        { mode: 0o600 },
      );
      return file;
    },
  };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? "/").split("?")[0] ?? "/";
    const rule = rules.find((r) => r.method === req.method && r.path.test(path));
    if (rule) {
      proxy.failed++;
      res.writeHead(rule.status, { "content-type": "application/json" });
      res.end(
        JSON.stringify({
          kind: "Status",
          apiVersion: "v1",
          status: "Failure",
          message: `injected by the fault proxy: ${rule.status}`,
          code: rule.status,
        }),
      );
      return;
    }
    const send = upstream.protocol === "https:" ? httpsRequest : httpRequest;
    const out = send(
      new URL(req.url ?? "/", upstream),
      { method: req.method, headers: { ...req.headers, host: upstream.host }, agent },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    out.on("error", (err) => {
      if (!res.headersSent) res.writeHead(502, { "content-type": "text/plain" });
      res.end(String(err));
    });
    req.pipe(out);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  proxy.url = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
  onCleanup(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    agent.destroy();
  });
  return proxy;
}
