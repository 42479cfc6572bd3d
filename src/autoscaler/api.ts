// The autoscaler's REST API (apiConfig), as the original's: GET /api/v1/metrics
// and POST /api/v1/evaluation, each with ?dry_run=true|false; errors as
// {"message", "code"}. Also GET /api/v1/history (the flight recorder's latest
// records, JSON lines), /metrics (Prometheus) and /healthz.
import { readFileSync } from "node:fs";
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from "node:http";
import { createServer as createHttpsServer } from "node:https";
import { resolve } from "node:path";
import type { Logger } from "pino";
import type { Registry } from "../lib/metrics.ts";
import { BusyError, type Autoscaler } from "./autoscaler.ts";
import type { Config } from "./config.ts";
import { parseSince } from "./recorder/ring.ts";

interface ApiError {
  status: number;
  message: string;
}

export interface ApiServerOptions {
  autoscaler: Autoscaler;
  config: Config;
  registry?: Registry;
  log: Logger;
  /** Healthy unless the scheduled loop has stalled. */
  isHealthy?: () => boolean;
}

function send(res: ServerResponse, status: number, body: unknown, contentType = "application/json"): void {
  const text = typeof body === "string" ? body : JSON.stringify(body);
  res.writeHead(status, { "content-type": contentType }).end(text);
}

function fail(res: ServerResponse, err: ApiError): void {
  send(res, err.status, { message: err.message, code: err.status });
}

/** ?dry_run must be a boolean word, as Go's strconv.ParseBool would accept. */
export function parseDryRun(value: string | null): boolean | ApiError {
  // No value, or an empty one (`?dry_run=`), is false, as the original reads it.
  if (value === null || value === "") return false;
  if (["1", "t", "T", "true", "TRUE", "True"].includes(value)) return true;
  if (["0", "f", "F", "false", "FALSE", "False"].includes(value)) return false;
  return {
    status: 400,
    message: `Invalid format for 'dry_run' query parameter; '${value}' is not a valid boolean value`,
  };
}

const ROUTES: Readonly<Record<string, readonly string[]>> = {
  "/api/v1/metrics": ["GET"],
  "/api/v1/evaluation": ["POST"],
  "/api/v1/history": ["GET"],
  "/metrics": ["GET"],
  "/healthz": ["GET"],
};

/** 404 for an unknown path, 405 for a known path with the wrong method. */
function routeError(path: string, method: string): ApiError | undefined {
  const methods = ROUTES[path];
  if (!methods) return { status: 404, message: `Resource '${path || "/"}' not found` };
  if (!methods.includes(method))
    return { status: 405, message: `Method '${method}' not allowed on '${path}'; use ${methods.join(", ")}` };
  return undefined;
}

async function serveOperational(opts: ApiServerOptions, path: string, res: ServerResponse): Promise<void> {
  if (path === "/healthz") {
    send(res, opts.isHealthy?.() === false ? 503 : 200, "ok\n", "text/plain");
  } else if (opts.registry) {
    send(res, 200, await opts.registry.metrics(), opts.registry.contentType);
  } else {
    fail(res, { status: 404, message: "metrics are not enabled" });
  }
}

async function serveStage(
  opts: ApiServerOptions,
  path: string,
  url: URL,
  res: ServerResponse,
): Promise<void> {
  const dryRun = parseDryRun(url.searchParams.get("dry_run"));
  if (typeof dryRun !== "boolean") {
    fail(res, dryRun);
    return;
  }
  const runType = dryRun ? "api_dry_run" : "api";
  // One API run may wait behind the running one; more are refused, so requests never pile up.
  const queueing = { refuseIfQueued: true };
  try {
    if (path === "/api/v1/metrics") send(res, 200, await opts.autoscaler.metrics(runType, queueing));
    else {
      // As the original: a dry run answers the evaluation; a real run the replicas it decided.
      // (A run with autoscaling disabled decides 0.)
      const outcome = await opts.autoscaler.run(runType, dryRun, queueing);
      send(res, 200, {
        targetReplicas: dryRun ? outcome.evaluation.targetReplicas : outcome.decision.replicas,
      });
    }
  } catch (err) {
    if (err instanceof BusyError) {
      res.setHeader("retry-after", "1");
      fail(res, { status: 429, message: err.message });
      return;
    }
    opts.log.debug({ path, err: String(err) }, "API request failed");
    fail(res, { status: 500, message: err instanceof Error ? err.message : String(err) });
  }
}

/** The ring's records, oldest first, one JSON object per line; ?since= a time or a duration back. */
function serveHistory(opts: ApiServerOptions, url: URL, res: ServerResponse): void {
  const value = url.searchParams.get("since");
  const since = value === null || value === "" ? Number.NEGATIVE_INFINITY : parseSince(value, Date.now());
  if (typeof since === "string") {
    fail(res, { status: 400, message: since });
    return;
  }
  const lines = opts.autoscaler.records.lines(since);
  send(res, 200, lines.map((l) => `${l}\n`).join(""), "application/x-ndjson");
}

export function apiHandler(opts: ApiServerOptions) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? "/", "http://localhost");
    const path = url.pathname.replace(/\/+$/, "");
    const refused = routeError(path, req.method ?? "GET");
    if (refused) fail(res, refused);
    else if (path === "/api/v1/history") serveHistory(opts, url, res);
    else if (path.startsWith("/api/")) await serveStage(opts, path, url, res);
    else await serveOperational(opts, path, res);
  };
}

/** Starts the API server as apiConfig says; resolves once it listens. */
export async function startApiServer(opts: ApiServerOptions): Promise<Server> {
  const { apiConfig, configDir } = opts.config;
  const handler = apiHandler(opts);
  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    handler(req, res).catch((err: unknown) => {
      fail(res, { status: 500, message: String(err) });
    });
  };
  const server = apiConfig.useHTTPS
    ? createHttpsServer(
        {
          cert: readFileSync(resolve(configDir, apiConfig.certFile ?? "")),
          key: readFileSync(resolve(configDir, apiConfig.keyFile ?? "")),
        },
        onRequest,
      )
    : createHttpServer(onRequest);
  await new Promise<void>((done, reject) => {
    server.once("error", reject);
    server.listen(apiConfig.port, apiConfig.host, done);
  });
  const addr = server.address();
  opts.log.info(
    {
      address: typeof addr === "object" && addr ? `${addr.address}:${addr.port}` : String(addr),
      https: apiConfig.useHTTPS,
    },
    "REST API listening",
  );
  return server;
}
