// The one HTTP transport to the apiserver. Authentication, TLS and proxies come
// from client-node's KubeConfig (kubeconfig files, in-cluster tokens, exec
// plugins); requests and watch streams are plain JSON over node:https, so we
// control exactly what is sent (server-side apply, /status, /scale) and how
// long a stream may stay silent.
import { Agent, request as httpsRequest, type RequestOptions } from "node:https";
import { request as httpRequest, type IncomingMessage } from "node:http";
import type { ClusterCredentials } from "./credentials.ts";

export type Query = Record<string, string | number | boolean | undefined>;

export interface CallOptions {
  query?: Query;
  body?: unknown;
  contentType?: string;
  signal?: AbortSignal;
  timeoutMs?: number;
}

/** The apiserver's metav1.Status, as returned with an error. */
export interface ApiStatus {
  kind?: string;
  status?: string;
  message?: string;
  reason?: string;
  code?: number;
  details?: { causes?: { field?: string; message?: string; reason?: string }[] };
}

/** An error answer of the apiserver (or no answer: status 0). */
export class KubeApiError extends Error {
  override readonly name = "KubeApiError";
  readonly status: number;
  readonly reason: string;
  readonly apiStatus: ApiStatus | undefined;
  constructor(
    method: string,
    path: string,
    status: number,
    apiStatus: ApiStatus | undefined,
    cause?: unknown,
  ) {
    const what = apiStatus?.message ?? (cause instanceof Error ? cause.message : `HTTP ${status}`);
    super(`${method} ${path}: ${what}`, cause === undefined ? undefined : { cause });
    this.status = status;
    this.reason = apiStatus?.reason ?? "";
    this.apiStatus = apiStatus;
  }
}

export const isNotFound = (err: unknown): boolean => err instanceof KubeApiError && err.status === 404;
export const isConflict = (err: unknown): boolean => err instanceof KubeApiError && err.status === 409;
export const isAlreadyExists = (err: unknown): boolean =>
  err instanceof KubeApiError && err.status === 409 && err.reason === "AlreadyExists";
/** A create refused because the namespace is being deleted: there is nothing left to do there. */
export const isNamespaceTerminating = (err: unknown): boolean =>
  err instanceof KubeApiError &&
  err.status === 403 &&
  (err.apiStatus?.details?.causes ?? []).some((c) => c.reason === "NamespaceTerminating");
/** Errors a retry cannot fix: the request itself is wrong, or not allowed. */
export const isTerminal = (err: unknown): boolean =>
  err instanceof KubeApiError && [400, 403, 422].includes(err.status);

const WRITE_METHODS = new Set(["POST", "PUT", "PATCH", "DELETE"]);

/** Observes every request, for metrics and for tests that count writes. */
export type RequestObserver = (method: string, path: string, status: number, seconds: number) => void;

/** How long a request may stay silent before it fails (watches have their own idle limit). */
export const REQUEST_TIMEOUT_MS = 30_000;

export class KubeHttp {
  readonly #kc: ClusterCredentials;
  readonly #server: URL;
  readonly #observers: RequestObserver[] = [];
  #writes = 0;
  readonly #agents = new Map<string, Agent>();

  constructor(kc: ClusterCredentials) {
    const cluster = kc.getCurrentCluster();
    if (!cluster) throw new Error("the kubeconfig has no current cluster");
    this.#kc = kc;
    this.#server = new URL(cluster.server);
  }

  get config(): ClusterCredentials {
    return this.#kc;
  }

  /** Write requests (create, update, patch, delete) made so far. */
  get writes(): number {
    return this.#writes;
  }

  observe(observer: RequestObserver): void {
    this.#observers.push(observer);
  }

  /**
   * One request. Unless the caller sets timeoutMs, a connection that stays
   * silent for REQUEST_TIMEOUT_MS fails the request, so a hung apiserver
   * connection cannot stall a caller for ever.
   */
  async request<T>(method: string, path: string, options: CallOptions = {}): Promise<T> {
    const started = performance.now();
    let status = 0;
    try {
      const res = await this.#send(method, path, { timeoutMs: REQUEST_TIMEOUT_MS, ...options });
      status = res.statusCode ?? 0;
      const text = await readBody(res);
      if (status < 200 || status >= 300) throw new KubeApiError(method, path, status, parseStatus(text));
      return (text ? JSON.parse(text) : undefined) as T;
    } catch (err) {
      if (err instanceof KubeApiError) throw err;
      throw new KubeApiError(method, path, status, undefined, err);
    } finally {
      if (WRITE_METHODS.has(method)) this.#writes++;
      const seconds = (performance.now() - started) / 1000;
      for (const o of this.#observers) o(method, path, status, seconds);
    }
  }

  /**
   * Opens a streaming GET (a watch) and calls onLine for each line. Resolves when
   * the server ends the stream; rejects on errors, on abort, and when nothing at
   * all arrives for idleMs (a connection that hangs silently).
   */
  async stream(
    path: string,
    query: Query,
    onLine: (line: string) => void,
    signal: AbortSignal,
    idleMs: number,
  ): Promise<void> {
    const res = await this.#send("GET", path, { query, signal });
    if (res.statusCode !== 200) {
      const text = await readBody(res);
      throw new KubeApiError("GET", path, res.statusCode ?? 0, parseStatus(text));
    }
    await new Promise<void>((resolve, reject) => {
      let buffered = "";
      let idle = setTimeout(onIdle, idleMs);
      function onIdle(): void {
        res.destroy(new Error(`watch ${path} received nothing for ${idleMs / 1000}s`));
      }
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        clearTimeout(idle);
        idle = setTimeout(onIdle, idleMs);
        buffered += chunk;
        let nl = buffered.indexOf("\n");
        while (nl >= 0) {
          const line = buffered.slice(0, nl);
          buffered = buffered.slice(nl + 1);
          try {
            if (line.trim()) onLine(line);
          } catch (err) {
            // A line the handler rejects (e.g. a watch ERROR event) ends the stream.
            clearTimeout(idle);
            res.destroy();
            reject(err instanceof Error ? err : new Error(String(err)));
            return;
          }
          nl = buffered.indexOf("\n");
        }
      });
      res.on("end", () => {
        clearTimeout(idle);
        resolve();
      });
      res.on("error", (err) => {
        clearTimeout(idle);
        reject(err);
      });
      res.on("close", () => {
        clearTimeout(idle);
        reject(new Error(`watch ${path} closed`));
      });
    });
  }

  /**
   * client-node's KubeConfig hands out a new https.Agent for every request,
   * so every request would open a new TLS connection. Requests with the same
   * TLS identity share one keep-alive agent instead. Agents of other kinds
   * (a configured proxy) are left alone.
   */
  #keepAlive(opts: RequestOptions): void {
    if (opts.agent !== undefined && opts.agent.constructor !== Agent) return;
    const tls = [
      opts.ca,
      opts.cert,
      opts.key,
      opts.pfx,
      opts.passphrase,
      opts.rejectUnauthorized,
      opts.servername,
    ];
    const key = JSON.stringify(tls);
    let agent = this.#agents.get(key);
    if (!agent) {
      agent = new Agent({
        keepAlive: true,
        ...(opts.ca === undefined ? {} : { ca: opts.ca }),
        ...(opts.cert === undefined ? {} : { cert: opts.cert }),
        ...(opts.key === undefined ? {} : { key: opts.key }),
        ...(opts.pfx === undefined ? {} : { pfx: opts.pfx }),
        ...(opts.passphrase === undefined ? {} : { passphrase: opts.passphrase }),
        ...(opts.rejectUnauthorized === undefined ? {} : { rejectUnauthorized: opts.rejectUnauthorized }),
        ...(opts.servername === undefined ? {} : { servername: opts.servername }),
      });
      this.#agents.set(key, agent);
    }
    opts.agent = agent;
  }

  async #send(method: string, path: string, options: CallOptions): Promise<IncomingMessage> {
    const url = new URL(path, this.#server);
    for (const [k, v] of Object.entries(options.query ?? {}))
      if (v !== undefined) url.searchParams.set(k, String(v));
    const body = options.body === undefined ? undefined : JSON.stringify(options.body);
    const opts: RequestOptions = {
      method,
      headers: {
        accept: "application/json",
        ...(body === undefined ? {} : { "content-type": options.contentType ?? "application/json" }),
      },
      ...(options.timeoutMs === undefined ? {} : { timeout: options.timeoutMs }),
      ...(options.signal ? { signal: options.signal } : {}),
    };
    await this.#kc.applyToHTTPSOptions(opts);
    this.#keepAlive(opts);
    const send = url.protocol === "http:" ? httpRequest : httpsRequest;
    return new Promise((resolve, reject) => {
      const req = send(url, opts, resolve);
      req.on("timeout", () => req.destroy(new Error(`timed out after ${options.timeoutMs ?? 0}ms`)));
      req.on("error", reject);
      req.end(body);
    });
  }
}

function readBody(res: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = "";
    res.setEncoding("utf8");
    res.on("data", (chunk: string) => (text += chunk));
    res.on("end", () => {
      resolve(text);
    });
    res.on("error", reject);
  });
}

function parseStatus(text: string): ApiStatus | undefined {
  try {
    const parsed = JSON.parse(text) as ApiStatus;
    return parsed.kind === "Status" ? parsed : { message: text.slice(0, 500) };
  } catch {
    return text ? { message: text.slice(0, 500) } : undefined;
  }
}
