// A small extension API server for integration tests: it serves the three
// metrics APIs the HPA reads (metrics.k8s.io, custom.metrics.k8s.io,
// external.metrics.k8s.io) from values a test sets, and registers itself with
// the cluster's aggregation layer as APIServices, so clients reach it through
// kube-apiserver exactly as they would reach metrics-server or an adapter.
//
// The APIServices point at a selector-less Service whose Endpoints and
// EndpointSlice hold this machine's own (non-loopback) address: the local
// plane's apiserver runs with --enable-aggregator-routing, so it dials that
// endpoint directly. (The aggregator refuses ExternalName services, and
// Endpoints may not hold loopback addresses.) A remote cluster's apiserver
// cannot reach us; callers check `reachableFromApiserver` and skip with that
// reason.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { createServer, type Server } from "node:https";
import { networkInterfaces, tmpdir } from "node:os";
import { join } from "node:path";
import {
  ApiregistrationV1Api,
  CoreV1Api,
  DiscoveryV1Api,
  type KubeConfig,
  type V1APIService,
} from "@kubernetes/client-node";
import { adminConfig, eventually } from "./kube.ts";

/** Container usage as metrics-server reports it, e.g. { cpu: "250m", memory: "64Mi" }. */
export type Usage = Record<string, string>;

export interface MetricsState {
  /** namespace → pod → container → usage (metrics.k8s.io PodMetrics). */
  pods: Record<string, Record<string, Record<string, Usage>>>;
  /** namespace → metric → pod → quantity (custom.metrics.k8s.io, pods/*). */
  podCustom: Record<string, Record<string, Record<string, string>>>;
  /** "namespace/resource/name/metric" → quantity (custom.metrics.k8s.io, one object). */
  object: Record<string, string>;
  /** namespace → metric → quantities (external.metrics.k8s.io). */
  external: Record<string, Record<string, string[]>>;
  /** The window metrics-server reports, in seconds. */
  windowSeconds: number;
}

const GROUPS = [
  { group: "metrics.k8s.io", version: "v1beta1", resources: ["pods", "nodes"] },
  { group: "custom.metrics.k8s.io", version: "v1beta2", resources: ["pods/*", "deployments.apps/*"] },
  { group: "external.metrics.k8s.io", version: "v1beta1", resources: ["*"] },
] as const;

const SERVICE_NAMESPACE = "kube-system";
const SERVICE_NAME = "cpa-test-metrics";

/** Whether kube-apiserver can reach a server on this machine: only when it listens on loopback. */
export function reachableFromApiserver(kc: KubeConfig = adminConfig()): boolean {
  const server = kc.getCurrentCluster()?.server;
  if (!server) return false;
  const host = new URL(server).hostname;
  return host === "127.0.0.1" || host === "localhost" || host === "[::1]";
}

/** This machine's first non-loopback IPv4 address: what the apiserver's Endpoints may point at. */
function hostAddress(): string {
  for (const addrs of Object.values(networkInterfaces())) {
    const found = addrs?.find((a) => a.family === "IPv4" && !a.internal);
    if (found) return found.address;
  }
  throw new Error(
    "the test metrics API needs a non-loopback IPv4 address on this machine (Endpoints may not point at 127.0.0.1)",
  );
}

function selfSignedCert(): { cert: Buffer; key: Buffer } {
  const dir = mkdtempSync(join(tmpdir(), "cpa-metrics-api-"));
  execFileSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-days",
      "1",
      "-subj",
      "/CN=localhost",
      "-addext",
      `subjectAltName=DNS:localhost,IP:127.0.0.1,IP:${hostAddress()}`,
      "-keyout",
      join(dir, "key.pem"),
      "-out",
      join(dir, "cert.pem"),
    ],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  return { cert: readFileSync(join(dir, "cert.pem")), key: readFileSync(join(dir, "key.pem")) };
}

function list(kind: string, apiVersion: string, items: unknown[]): unknown {
  return { kind, apiVersion, metadata: {}, items };
}

type Group = (typeof GROUPS)[number];

function discovery(api: Group): unknown {
  return {
    kind: "APIResourceList",
    apiVersion: "v1",
    groupVersion: `${api.group}/${api.version}`,
    resources: api.resources.map((name) => ({
      name,
      namespaced: name !== "nodes",
      kind: "MetricValueList",
      verbs: ["get", "list"],
    })),
  };
}

/** metrics.k8s.io: GET namespaces/{ns}/pods */
function resourceMetrics(state: MetricsState, namespace: string, rest: string[], timestamp: string): unknown {
  if (rest.join("/") !== "pods") return undefined;
  const pods = Object.entries(state.pods[namespace] ?? {}).map(([name, containers]) => ({
    metadata: { name, namespace },
    timestamp,
    window: `${state.windowSeconds}s`,
    containers: Object.entries(containers).map(([c, usage]) => ({ name: c, usage })),
  }));
  return list("PodMetricsList", "metrics.k8s.io/v1beta1", pods);
}

/** custom.metrics.k8s.io: GET namespaces/{ns}/pods/*\/{metric} and namespaces/{ns}/{resource}/{name}/{metric} */
function customMetrics(state: MetricsState, namespace: string, rest: string[], timestamp: string): unknown {
  if (rest.length !== 3) return undefined;
  const [resource, name, metric] = rest as [string, string, string];
  const sample = (describedObject: Record<string, string>, value: string) => ({
    describedObject,
    metric: { name: metric },
    timestamp,
    windowSeconds: state.windowSeconds,
    value,
  });
  if (resource === "pods" && name === "*") {
    const values = Object.entries(state.podCustom[namespace]?.[metric] ?? {}).map(([pod, value]) =>
      sample({ kind: "Pod", namespace, name: pod, apiVersion: "v1" }, value),
    );
    return list("MetricValueList", "custom.metrics.k8s.io/v1beta2", values);
  }
  const value = state.object[`${namespace}/${resource}/${name}/${metric}`];
  if (value === undefined) return undefined;
  return list("MetricValueList", "custom.metrics.k8s.io/v1beta2", [sample({ namespace, name }, value)]);
}

/** external.metrics.k8s.io: GET namespaces/{ns}/{metric} */
function externalMetrics(state: MetricsState, namespace: string, rest: string[], timestamp: string): unknown {
  const [metric] = rest;
  if (rest.length !== 1 || !metric) return undefined;
  const values = (state.external[namespace]?.[metric] ?? []).map((value) => ({
    metricName: metric,
    metricLabels: {},
    timestamp,
    value,
  }));
  return list("ExternalMetricValueList", "external.metrics.k8s.io/v1beta1", values);
}

const HANDLERS: Record<Group["group"], typeof resourceMetrics> = {
  "metrics.k8s.io": resourceMetrics,
  "custom.metrics.k8s.io": customMetrics,
  "external.metrics.k8s.io": externalMetrics,
};

/** Answers one request from the state; undefined for a path we do not serve (404). */
export function answer(state: MetricsState, path: string, now: Date): unknown {
  const [apis, group, version, ns, namespace, ...rest] = path
    .split("/")
    .filter(Boolean)
    .map(decodeURIComponent);
  const api = GROUPS.find((g) => g.group === group && g.version === version);
  if (apis !== "apis" || !api) return undefined;
  if (ns === undefined) return discovery(api);
  if (ns !== "namespaces" || namespace === undefined) return undefined;
  return HANDLERS[api.group](state, namespace, rest, now.toISOString());
}

export interface MetricsApi {
  state: MetricsState;
  /** Paths requested so far (without query), to check what the autoscaler asked for. */
  requests: string[];
  close(): Promise<void>;
}

/**
 * Starts the server, registers the APIServices and waits until the aggregator
 * reports them Available. close() removes the registrations first: an
 * unavailable APIService would break discovery (and namespace deletion) for
 * everything else on the cluster.
 */
export async function startMetricsApi(kc: KubeConfig = adminConfig()): Promise<MetricsApi> {
  const state: MetricsState = { pods: {}, podCustom: {}, object: {}, external: {}, windowSeconds: 30 };
  const requests: string[] = [];
  const server: Server = createServer(selfSignedCert(), (req, res) => {
    const url = new URL(req.url ?? "/", "https://localhost");
    requests.push(url.pathname);
    const body = req.method === "GET" ? answer(state, url.pathname, new Date()) : undefined;
    res
      .writeHead(body === undefined ? 404 : 200, { "content-type": "application/json" })
      .end(
        JSON.stringify(
          body ?? { kind: "Status", apiVersion: "v1", status: "Failure", code: 404, reason: "NotFound" },
        ),
      );
  });
  const ip = hostAddress();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, ip, resolve);
  });
  const addr = server.address();
  const port = typeof addr === "object" && addr ? addr.port : 0;

  const core = kc.makeApiClient(CoreV1Api);
  const slices = kc.makeApiClient(DiscoveryV1Api);
  const registration = kc.makeApiClient(ApiregistrationV1Api);
  const namespace = SERVICE_NAMESPACE;
  await core.deleteNamespacedService({ name: SERVICE_NAME, namespace }).catch(() => undefined);
  await core.deleteNamespacedEndpoints({ name: SERVICE_NAME, namespace }).catch(() => undefined);
  await slices.deleteNamespacedEndpointSlice({ name: SERVICE_NAME, namespace }).catch(() => undefined);
  await core.createNamespacedService({
    namespace,
    body: {
      metadata: { name: SERVICE_NAME },
      spec: { ports: [{ name: "https", port: 443, targetPort: port }] },
    },
  });
  // Both forms, so this works whichever one the apiserver's resolver reads.
  await core.createNamespacedEndpoints({
    namespace,
    body: {
      metadata: { name: SERVICE_NAME },
      subsets: [{ addresses: [{ ip }], ports: [{ name: "https", port }] }],
    },
  });
  await slices.createNamespacedEndpointSlice({
    namespace,
    body: {
      metadata: { name: SERVICE_NAME, labels: { "kubernetes.io/service-name": SERVICE_NAME } },
      addressType: "IPv4",
      endpoints: [{ addresses: [ip], conditions: { ready: true } }],
      ports: [{ name: "https", port, protocol: "TCP" }],
    },
  });
  const apiServices: V1APIService[] = GROUPS.map((g) => ({
    metadata: { name: `${g.version}.${g.group}` },
    spec: {
      group: g.group,
      version: g.version,
      service: { namespace: SERVICE_NAMESPACE, name: SERVICE_NAME, port: 443 },
      insecureSkipTLSVerify: true,
      groupPriorityMinimum: 100,
      versionPriority: 100,
    },
  }));
  const unregister = async (): Promise<void> => {
    for (const s of apiServices)
      await registration.deleteAPIService({ name: s.metadata?.name ?? "" }).catch(() => undefined);
    await core
      .deleteNamespacedService({ name: SERVICE_NAME, namespace: SERVICE_NAMESPACE })
      .catch(() => undefined);
  };
  try {
    for (const s of apiServices) {
      await registration.deleteAPIService({ name: s.metadata?.name ?? "" }).catch(() => undefined);
      await registration.createAPIService({ body: s });
    }
    for (const s of apiServices) {
      const name = s.metadata?.name ?? "";
      await eventually(
        `APIService ${name} to become Available`,
        async () => {
          const got = await registration.readAPIService({ name });
          const available = got.status?.conditions?.find((c) => c.type === "Available");
          if (available?.status === "True") return true;
          throw new Error(`Available=${available?.status ?? "?"}: ${available?.message ?? ""}`);
        },
        60_000,
      );
    }
  } catch (err) {
    await unregister();
    server.close();
    throw err;
  }
  return {
    state,
    requests,
    close: async () => {
      await unregister();
      await new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
      });
    },
  };
}
