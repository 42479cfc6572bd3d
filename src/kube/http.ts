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

/** How long a watch may wait for its response headers (the body may then stay open for minutes). */
export const WATCH_HEADER_TIMEOUT_MS = 30_000;

/**
 * What callers of the API use: one request, or one watch stream. KubeHttp is
 * one; `DrainingClient` wraps one for work that must stop cleanly.
 */
export interface KubeClient {
  request<T>(method: string, path: string, options?: CallOptions): Promise<T>;
  stream(path: string, options: StreamOptions): Promise<void>;
}

export interface StreamOptions {
  query: Query;
  /** Called with each line of the body; a throw ends the stream with that error. */
  onLine: (line: string) => void;
  signal: AbortSignal;
  /** The stream fails when nothing at all arrives for this long (a connection that hangs silently). */
  idleMs: number;
  /** How long to wait for the response headers; WATCH_HEADER_TIMEOUT_MS by default. */
  headerTimeoutMs?: number;
  /** Called once the server has answered 200 and the body starts. */
  onOpen?: () => void;
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
/** The object sent is invalid (400 Bad Request, 422 Invalid): only a different object can pass. */
export const isInvalid = (err: unknown): boolean =>
  err instanceof KubeApiError && (err.status === 400 || err.status === 422);
/** Errors a retry cannot fix: the request itself is wrong, or not allowed. */
export const isTerminal = (err: unknown): boolean =>
  err instanceof KubeApiError && [400, 403, 422].includes(err.status);

const WRITE_METHODS = new Set(["POST", "PUT", "PATCH", "DELETE"]);

/** Observes every request, for metrics and for tests that count writes. */
export type RequestObserver = (method: string, path: string, status: number, seconds: number) => void;

/** How long a request may stay silent before it fails (watches have their own idle limit). */
export const REQUEST_TIMEOUT_MS = 30_000;

export interface KubeHttpOptions {
  /**
   * Sent as User-Agent on every request, so the apiserver's audit log and
   * metrics can tell writers apart, e.g. `cpa-operator/0.1.0 (pod ns/name)`.
   */
  userAgent?: string;
}

export class KubeHttp implements KubeClient {
  readonly #kc: ClusterCredentials;
  readonly #server: URL;
  readonly #userAgent: string | undefined;
  readonly #observers: RequestObserver[] = [];
  #writes = 0;
  readonly #agents = new Map<string, Agent>();

  constructor(kc: ClusterCredentials, options: KubeHttpOptions = {}) {
    const cluster = kc.getCurrentCluster();
    if (!cluster) throw new Error("the kubeconfig has no current cluster");
    this.#kc = kc;
    this.#server = new URL(cluster.server);
    this.#userAgent = options.userAgent;
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
   * the server ends the stream; rejects on errors, on abort, when the headers do
   * not come in time, and when nothing at all arrives for idleMs.
   */
  async stream(path: string, options: StreamOptions): Promise<void> {
    const { query, onLine, signal, idleMs } = options;
    // No overall timeout (a watch stays open by design), but its headers must come
    // promptly: a dead keep-alive socket would otherwise hang here with no error.
    const res = await this.#send(
      "GET",
      path,
      { query, signal },
      options.headerTimeoutMs ?? WATCH_HEADER_TIMEOUT_MS,
    );
    if (res.statusCode !== 200) {
      const text = await readBody(res);
      throw new KubeApiError("GET", path, res.statusCode ?? 0, parseStatus(text));
    }
    options.onOpen?.();
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

  async #send(
    method: string,
    path: string,
    options: CallOptions,
    headerTimeoutMs?: number,
  ): Promise<IncomingMessage> {
    const url = new URL(path, this.#server);
    for (const [k, v] of Object.entries(options.query ?? {}))
      if (v !== undefined) url.searchParams.set(k, String(v));
    const body = options.body === undefined ? undefined : JSON.stringify(options.body);
    const opts: RequestOptions = {
      method,
      headers: {
        accept: "application/json",
        ...(this.#userAgent ? { "user-agent": this.#userAgent } : {}),
        // Always a Content-Length with a body: Node sends none for a DELETE's body,
        // and on a keep-alive connection the server would then read that body as
        // the next request (which fails with 400).
        ...(body === undefined
          ? {}
          : {
              "content-type": options.contentType ?? "application/json",
              "content-length": Buffer.byteLength(body),
            }),
      },
      ...(options.timeoutMs === undefined ? {} : { timeout: options.timeoutMs }),
      ...(options.signal ? { signal: options.signal } : {}),
    };
    await this.#kc.applyToHTTPSOptions(opts);
    if (url.protocol === "https:") this.#keepAlive(opts);
    const send = url.protocol === "http:" ? httpRequest : httpsRequest;
    return new Promise((resolve, reject) => {
      const req = send(url, opts, (res) => {
        clearTimeout(headers);
        resolve(res);
      });
      const headers =
        headerTimeoutMs === undefined
          ? undefined
          : setTimeout(() => {
              req.destroy(new Error(`no response headers within ${headerTimeoutMs}ms`));
            }, headerTimeoutMs);
      req.on("timeout", () => req.destroy(new Error(`timed out after ${options.timeoutMs ?? 0}ms`)));
      req.on("error", (err) => {
        clearTimeout(headers);
        reject(err);
      });
      req.end(body);
    });
  }
}

/**
 * A client for work that must end cleanly, such as a term as leader. Once stop
 * aborts, a new request fails at once without leaving the process and streams
 * (reads) are aborted, while requests already sent run on to their answer: an
 * answer proves the server has seen the request, while an aborted request may
 * still reach it later. So once idle() resolves the server has seen every
 * request this client will ever make, unless cut() had to abort some.
 */
export class DrainingClient implements KubeClient {
  readonly #inner: KubeClient;
  readonly #stop: AbortSignal;
  readonly #cut = new AbortController();
  #inFlight = 0;
  #wasCut = false;
  #idle: (() => void)[] = [];

  constructor(inner: KubeClient, stop: AbortSignal) {
    this.#inner = inner;
    this.#stop = stop;
  }

  async request<T>(method: string, path: string, options: CallOptions = {}): Promise<T> {
    if (this.#stop.aborted) {
      throw new KubeApiError(method, path, 0, undefined, new Error("stopping: the request was not sent"));
    }
    const signal = options.signal ? AbortSignal.any([options.signal, this.#cut.signal]) : this.#cut.signal;
    this.#inFlight++;
    try {
      return await this.#inner.request<T>(method, path, { ...options, signal });
    } finally {
      if (--this.#inFlight === 0) for (const resolve of this.#idle.splice(0)) resolve();
    }
  }

  stream(path: string, options: StreamOptions): Promise<void> {
    return this.#inner.stream(path, { ...options, signal: AbortSignal.any([options.signal, this.#stop]) });
  }

  /** Resolves once no request is in flight. */
  idle(): Promise<void> {
    if (this.#inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  /** Aborts the requests still in flight (their fate on the server is then unknown). */
  cut(): void {
    if (this.#inFlight > 0) this.#wasCut = true;
    this.#cut.abort();
  }

  /** True unless cut() aborted a request that had been sent. */
  get settled(): boolean {
    return !this.#wasCut;
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
