// How KubeHttp reaches and authenticates to the API server. client-node's
// KubeConfig does it all (kubeconfig files, exec plugins, in-cluster), but
// loading the package costs about 90 MB of memory, most of it generated API
// classes. Inside a Pod the autoscaler only needs the in-cluster case (the
// ServiceAccount token and CA the kubelet mounts), so that case is handled here
// and client-node is loaded only for a kubeconfig.
import { existsSync, readFileSync } from "node:fs";
import type { OutgoingHttpHeaders } from "node:http";
import type { RequestOptions } from "node:https";
import { homedir } from "node:os";
import { join } from "node:path";

/** What KubeHttp needs; client-node's KubeConfig has the same two methods. */
export interface ClusterCredentials {
  getCurrentCluster(): { server: string } | null;
  applyToHTTPSOptions(opts: RequestOptions): Promise<void>;
}

export const SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

/** Re-read the token this often: the kubelet rotates projected tokens. */
const TOKEN_TTL_MS = 60_000;

/** The Pod's ServiceAccount, as client-go's rest.InClusterConfig reads it. */
export class InClusterCredentials implements ClusterCredentials {
  readonly #server: string;
  readonly #ca: Buffer;
  readonly #dir: string;
  #token = "";
  #readAt = -Infinity;

  constructor(env: NodeJS.ProcessEnv = process.env, dir = SERVICE_ACCOUNT_DIR) {
    const host = env["KUBERNETES_SERVICE_HOST"];
    const port = env["KUBERNETES_SERVICE_PORT"];
    if (!host || !port)
      throw new Error("not in a cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set");
    this.#server = `https://${host.includes(":") ? `[${host}]` : host}:${port}`;
    this.#dir = dir;
    this.#ca = readFileSync(join(dir, "ca.crt"));
  }

  getCurrentCluster(): { server: string } {
    return { server: this.#server };
  }

  applyToHTTPSOptions(opts: RequestOptions): Promise<void> {
    const now = Date.now();
    if (now - this.#readAt > TOKEN_TTL_MS) {
      this.#token = readFileSync(join(this.#dir, "token"), "utf8").trim();
      this.#readAt = now;
    }
    opts.ca = this.#ca;
    // KubeHttp passes headers as an object; the array form never reaches here.
    const headers: OutgoingHttpHeaders = Array.isArray(opts.headers)
      ? {}
      : { ...(opts.headers as OutgoingHttpHeaders | undefined) };
    headers.authorization = `Bearer ${this.#token}`;
    opts.headers = headers;
    return Promise.resolve();
  }
}

/**
 * The credentials client-node's loadFromDefault would pick, in its order: an
 * explicit kubeconfig, $KUBECONFIG, ~/.kube/config, then in-cluster. Only the
 * kubeconfig cases load client-node.
 */
export async function loadCredentials(
  kubeconfig: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): Promise<ClusterCredentials> {
  const file = kubeconfig ?? env["KUBECONFIG"];
  const home = join(homedir(), ".kube", "config");
  const inCluster =
    env["KUBERNETES_SERVICE_HOST"] !== undefined && existsSync(join(SERVICE_ACCOUNT_DIR, "token"));
  if (!file && !existsSync(home) && inCluster) return new InClusterCredentials(env);
  const { KubeConfig } = await import("@kubernetes/client-node");
  const kc = new KubeConfig();
  if (file) kc.loadFromFile(file);
  else kc.loadFromDefault();
  if (!kc.getCurrentCluster())
    throw new Error("no Kubernetes cluster configured: the kubeconfig has no current cluster");
  return kc;
}
