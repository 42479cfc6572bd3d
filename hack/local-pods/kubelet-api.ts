// The part of the kubelet API the apiserver calls for `kubectl logs`:
// GET /containerLogs/{namespace}/{pod}/{container} with follow, tailLines,
// sinceSeconds, sinceTime, timestamps, previous and limitBytes. Served over TLS
// on the node's address with the plane's certificates, as a kubelet is: the
// caller must present a client certificate the cluster CA signed, and must be
// allowed `get` on the `nodes/proxy` subresource of this node (the kubelet's
// mapping for its other paths), which a SubjectAccessReview decides; allowed
// answers are kept for five minutes, as the kubelet's webhook authorizer does.
import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { TLSSocket } from "node:tls";
import type { KubeHttp } from "../../src/kube/http.ts";
import { formatLine, selectLog, type InstanceLog, type LogQuery } from "./logs.ts";

export interface KubeletApiOptions {
  host: string;
  port: number;
  tls: { ca: string; cert: string; key: string };
  nodeName: string;
  /** Asks the apiserver whether a user may do this (SubjectAccessReview). */
  http: KubeHttp;
  /** The log of a Pod's container: its latest instance, or the one before with `previous`. */
  find: (namespace: string, pod: string, container: string, previous: boolean) => LogLookup;
}

export type LogLookup = { log: InstanceLog } | { status: number; message: string };

/** The options of a /containerLogs request, or the reason they are wrong. Pure. */
export function logQuery(
  params: URLSearchParams,
  now: number,
): (LogQuery & { follow: boolean; previous: boolean }) | string {
  const int = (name: string): number | undefined | string => {
    const v = params.get(name);
    if (v === null || v === "") return undefined;
    return /^-?\d+$/.test(v) ? Number(v) : `${name}: not an integer: ${v}`;
  };
  const bool = (name: string): boolean => ["true", "1"].includes(params.get(name) ?? "");
  const tailLines = int("tailLines");
  const sinceSeconds = int("sinceSeconds");
  const limitBytes = int("limitBytes");
  for (const v of [tailLines, sinceSeconds, limitBytes]) if (typeof v === "string") return v;
  const sinceTime = params.get("sinceTime");
  let sinceMs: number | undefined;
  if (typeof sinceSeconds === "number") sinceMs = now - sinceSeconds * 1000;
  if (sinceTime) {
    sinceMs = Date.parse(sinceTime);
    if (Number.isNaN(sinceMs)) return `sinceTime: not an RFC 3339 time: ${sinceTime}`;
  }
  return {
    tailLines: tailLines as number | undefined,
    sinceMs,
    limitBytes: limitBytes as number | undefined,
    timestamps: bool("timestamps"),
    follow: bool("follow"),
    previous: bool("previous"),
  };
}

/** Users and groups from a client certificate's subject: CN is the user, each O a group. Pure. */
export function identityOf(subject: Record<string, string | string[] | undefined>): {
  user: string;
  groups: string[];
} {
  const list = (v: string | string[] | undefined): string[] =>
    v === undefined ? [] : Array.isArray(v) ? v : [v];
  return { user: list(subject["CN"])[0] ?? "", groups: list(subject["O"]) };
}

export class KubeletApi {
  readonly #o: KubeletApiOptions;
  readonly #server: Server;
  readonly #allowed = new Map<string, number>();

  constructor(o: KubeletApiOptions) {
    this.#o = o;
    this.#server = createServer(
      {
        ca: readFileSync(o.tls.ca),
        cert: readFileSync(o.tls.cert),
        key: readFileSync(o.tls.key),
        requestCert: true,
        rejectUnauthorized: true,
      },
      (req, res) => {
        this.#handle(req, res).catch((err: unknown) => {
          if (!res.headersSent) text(res, 500, err instanceof Error ? err.message : String(err));
          else res.destroy();
        });
      },
    );
  }

  /** Listens on the host and port given (0: any free port); resolves with the port. */
  listen(): Promise<number> {
    return new Promise((resolve, reject) => {
      this.#server.once("error", reject);
      this.#server.listen(this.#o.port, this.#o.host, () => {
        this.#server.off("error", reject);
        const addr = this.#server.address();
        resolve(typeof addr === "object" && addr ? addr.port : this.#o.port);
      });
    });
  }

  close(): Promise<void> {
    this.#server.closeAllConnections();
    return new Promise((resolve) =>
      this.#server.close(() => {
        resolve();
      }),
    );
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "https://kubelet");
    const who = identityOf((req.socket as TLSSocket).getPeerCertificate().subject);
    if (!(await this.#authorized(who.user, who.groups))) {
      text(res, 403, `Forbidden (user=${who.user}, verb=get, resource=nodes, subresource(s)=[proxy])`);
      return;
    }
    const m = /^\/containerLogs\/([^/]+)\/([^/]+)\/([^/]+)\/?$/.exec(url.pathname);
    if (req.method !== "GET" || !m) {
      text(
        res,
        404,
        `${url.pathname}: the local kubelet serves only GET /containerLogs/{namespace}/{pod}/{container}`,
      );
      return;
    }
    const [namespace = "", pod = "", container = ""] = m.slice(1).map(decodeURIComponent);
    const q = logQuery(url.searchParams, Date.now());
    if (typeof q === "string") {
      text(res, 400, q);
      return;
    }
    const found = this.#o.find(namespace, pod, container, q.previous);
    if ("status" in found) {
      text(res, found.status, found.message);
      return;
    }
    streamLog(found.log, q, res);
  }

  async #authorized(user: string, groups: string[]): Promise<boolean> {
    const key = `${user}|${groups.join(",")}`;
    if ((this.#allowed.get(key) ?? 0) > Date.now()) return true;
    const review = await this.#o.http.request<{ status?: { allowed?: boolean } }>(
      "POST",
      "/apis/authorization.k8s.io/v1/subjectaccessreviews",
      {
        body: {
          apiVersion: "authorization.k8s.io/v1",
          kind: "SubjectAccessReview",
          spec: {
            user,
            groups,
            resourceAttributes: {
              verb: "get",
              resource: "nodes",
              subresource: "proxy",
              name: this.#o.nodeName,
            },
          },
        },
      },
    );
    const allowed = review.status?.allowed === true;
    if (allowed) this.#allowed.set(key, Date.now() + 5 * 60_000);
    return allowed;
  }
}

function text(res: ServerResponse, status: number, message: string): void {
  res.writeHead(status, { "content-type": "text/plain; charset=utf-8" });
  res.end(`${message}\n`);
}

/** Writes what the log holds, then, with follow, each new line until the instance ends. */
function streamLog(log: InstanceLog, q: LogQuery & { follow: boolean }, res: ServerResponse): void {
  res.writeHead(200, { "content-type": "text/plain; charset=utf-8" });
  let budget = q.limitBytes ?? Number.POSITIVE_INFINITY;
  const write = (chunk: string): boolean => {
    const bytes = Buffer.from(chunk);
    const part = bytes.length <= budget ? bytes : bytes.subarray(0, budget);
    budget -= part.length;
    res.write(part);
    return budget > 0;
  };
  const { limitBytes: _, ...rest } = q;
  const more = write(selectLog(log.lines(), rest));
  if (!q.follow || log.ended || !more) {
    res.end();
    return;
  }
  const onLine = (line: Parameters<typeof formatLine>[0]): void => {
    if (q.sinceMs !== undefined && Date.parse(line.time) < q.sinceMs) return;
    if (!write(formatLine(line, q.timestamps === true))) done();
  };
  const done = (): void => {
    log.off("line", onLine);
    log.off("end", done);
    res.end();
  };
  log.on("line", onLine);
  log.on("end", done);
  res.on("close", done);
}
