// The small HTTP server every cpa process runs: /metrics, /healthz, /readyz.
import { createServer, type Server } from "node:http";
import type { Registry } from "./metrics.ts";

export interface ProbeServerOptions {
  /** host:port; ":8080" listens on every interface. */
  address: string;
  registry: Registry;
  isReady: () => boolean;
  isHealthy?: () => boolean;
}

export function parseAddress(address: string): { host: string; port: number } {
  const colon = address.lastIndexOf(":");
  const host = colon > 0 ? address.slice(0, colon).replace(/^\[|\]$/g, "") : "";
  const port = Number(address.slice(colon + 1));
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new Error(`invalid address "${address}": expected host:port`);
  return { host: host || "0.0.0.0", port };
}

export async function startProbeServer(opts: ProbeServerOptions): Promise<Server> {
  const { host, port } = parseAddress(opts.address);
  const server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    const answer = (ok: boolean): void => {
      res.writeHead(ok ? 200 : 503, { "content-type": "text/plain" }).end(ok ? "ok\n" : "not ready\n");
    };
    if (path === "/healthz" || path === "/livez") {
      answer(opts.isHealthy?.() ?? true);
    } else if (path === "/readyz") {
      answer(opts.isReady());
    } else if (path === "/metrics") {
      opts.registry.metrics().then(
        (text) => res.writeHead(200, { "content-type": opts.registry.contentType }).end(text),
        (err: unknown) => res.writeHead(500).end(String(err)),
      );
    } else {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, resolve);
  });
  return server;
}
