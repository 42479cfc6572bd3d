// The HTTP method: sends the stage's JSON to a URL (as the query parameter
// `value` or as the body) and takes the response body as the output, as the
// original runtime does.
import { readFileSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import { resolve } from "node:path";
import type { HttpConfig } from "../../api/autoscaler-config.ts";
import {
  MethodError,
  outputTooLarge,
  type RunnerContext,
  type RunnerLimits,
  type StageRunner,
} from "./method.ts";

/** How much of an error body goes into the message; the full capture is in the details. */
const MESSAGE_BODY_CHARS = 1000;

export function httpRunner(config: HttpConfig, limits: RunnerLimits, ctx: RunnerContext): StageRunner {
  const { timeoutMs, maxOutputBytes } = limits;
  const url = parseUrl(config.url);
  const shown = displayUrl(url);
  // Read once, at start: a missing certificate is a configuration error to
  // report before the first run, not on every one.
  const tls = {
    ...(config.caCert ? { ca: readTlsFile(ctx, "caCert", config.caCert) } : {}),
    ...(config.clientCert && config.clientKey
      ? {
          cert: readTlsFile(ctx, "clientCert", config.clientCert),
          key: readTlsFile(ctx, "clientKey", config.clientKey),
        }
      : {}),
  };
  const agent =
    url.protocol === "https:"
      ? new https.Agent({ keepAlive: true, ...tls })
      : new http.Agent({ keepAlive: true });
  const send = url.protocol === "https:" ? https.request : http.request;

  return {
    run(input, signal) {
      return new Promise<string>((resolvePromise, reject) => {
        if (signal?.aborted) {
          reject(abortReason(signal));
          return;
        }
        const target = new URL(url);
        const headers: Record<string, string | number> = {};
        if (config.parameterMode === "query") {
          // set, not append: a second `value` would leave the server to guess which one is ours.
          target.searchParams.set("value", input);
        } else {
          headers["content-type"] = "application/json";
          headers["content-length"] = Buffer.byteLength(input);
        }
        Object.assign(headers, config.headers);

        const req = send(target, { method: config.method, headers, agent }, (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on("data", (chunk: Buffer) => {
            size += chunk.length;
            if (size > maxOutputBytes) {
              // Past the limit the body is useless: stop reading now.
              req.destroy();
              fail(outputTooLarge(`${config.method} ${shown}`, maxOutputBytes));
              return;
            }
            chunks.push(chunk);
          });
          res.on("error", (err) => {
            fail(
              new MethodError(
                "http-unreachable",
                `the response from ${shown} broke off: ${err.message}`,
                {},
                err,
              ),
            );
          });
          res.on("end", () => {
            const body = Buffer.concat(chunks).toString("utf8");
            const status = res.statusCode ?? 0;
            if (config.successCodes.includes(status)) {
              cleanUp();
              resolvePromise(body);
            } else {
              const excerpt = body.trim().slice(0, MESSAGE_BODY_CHARS) || "(empty body)";
              fail(
                new MethodError("http-status", `${config.method} ${shown} returned ${status}: ${excerpt}`, {
                  status,
                  body,
                }),
              );
            }
          });
        });

        const timer = setTimeout(() => {
          req.destroy();
          fail(new MethodError("timeout", `${config.method} ${shown} did not answer within ${timeoutMs} ms`));
        }, timeoutMs);
        signal?.addEventListener("abort", onAbort, { once: true });

        function onAbort(): void {
          req.destroy();
          fail(abortReason(signal));
        }
        function cleanUp(): void {
          clearTimeout(timer);
          signal?.removeEventListener("abort", onAbort);
        }
        function fail(err: Error): void {
          cleanUp();
          reject(err);
        }

        req.on("error", (err) => {
          fail(new MethodError("http-unreachable", `could not reach ${shown}: ${err.message}`, {}, err));
        });
        req.end(config.parameterMode === "body" ? input : undefined);
      });
    },
    close() {
      agent.destroy();
      return Promise.resolve();
    },
  };
}

function parseUrl(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new Error(`http.url ${JSON.stringify(text)} is not a valid URL`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new Error(`http.url ${JSON.stringify(text)} must start with http:// or https://`);
  }
  return url;
}

/** The URL for messages and logs, without a password it may carry. */
function displayUrl(url: URL): string {
  if (!url.password) return url.href;
  const copy = new URL(url);
  copy.password = "***";
  return copy.href;
}

function readTlsFile(ctx: RunnerContext, key: string, path: string): Buffer {
  const full = resolve(ctx.configDir, path);
  try {
    return readFileSync(full);
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (err as Error).message;
    throw new Error(`http.${key}: cannot read ${full}: ${reason}`, { cause: err });
  }
}

/** Aborting rejects with the signal's reason, as fetch does. */
function abortReason(signal: AbortSignal | undefined): Error {
  const reason: unknown = signal?.reason;
  return reason instanceof Error ? reason : new Error("the run was aborted", { cause: reason });
}
