import { hostname } from "node:os";
import { readFileSync } from "node:fs";

let version: string | undefined;

/** cpa's version, from its package.json (read once, on first use). */
export function cpaVersion(): string {
  version ??= (
    JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
      version: string;
    }
  ).version;
  return version;
}

/**
 * The User-Agent a cpa process sends, e.g. `cpa-operator/0.1.0 (pod ns/name)`:
 * which component, which version, and which Pod (or host and process) writes,
 * as the apiserver's audit log and metrics record it.
 */
export function userAgent(component: string, namespace: string | undefined, env: NodeJS.ProcessEnv): string {
  const host = hostname();
  const inPod = env["KUBERNETES_SERVICE_HOST"] !== undefined && namespace;
  return `${component}/${cpaVersion()} (${inPod ? `pod ${namespace}/${host}` : `host ${host}, pid ${process.pid}`})`;
}
