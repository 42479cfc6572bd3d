import { request } from "node:https";
import { readFileSync } from "node:fs";

export interface TlsClient {
  ca?: string;
  cert?: string;
  key?: string;
}

export interface Response {
  status: number;
  body: string;
}

/** A bare HTTPS call with client certificates, for talking to the plane before any client exists. */
export function https(url: string, tls: TlsClient, method = "GET", body?: unknown): Promise<Response> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method,
        timeout: 5000,
        ...(tls.ca ? { ca: readFileSync(tls.ca) } : { rejectUnauthorized: false }),
        ...(tls.cert ? { cert: readFileSync(tls.cert) } : {}),
        ...(tls.key ? { key: readFileSync(tls.key) } : {}),
        headers: body === undefined ? {} : { "content-type": "application/json" },
      },
      (res) => {
        let data = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => (data += chunk));
        res.on("end", () => {
          resolve({ status: res.statusCode ?? 0, body: data });
        });
      },
    );
    req.on("timeout", () => req.destroy(new Error(`timed out: ${method} ${url}`)));
    req.on("error", reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

/** Polls until check returns a value; fails with the last reason after timeoutMs. */
export async function waitFor<T>(
  what: string,
  timeoutMs: number,
  check: () => Promise<T | undefined>,
  abort?: () => string | undefined,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last = "";
  for (;;) {
    const aborted = abort?.();
    if (aborted) throw new Error(aborted);
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (err) {
      last = err instanceof Error ? err.message : String(err);
    }
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what}${last ? `: ${last}` : ""}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}
