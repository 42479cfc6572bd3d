// What the runtime's libraries cost at import, and what a process's size costs
// each spawn: each measured in a fresh Node process of its own, so one
// measurement never carries another's memory.
import { execFileSync } from "node:child_process";
import { repoRoot } from "../plane/config.ts";
import { round } from "./stats.ts";

export interface ImportCost {
  module: string;
  /** RSS after importing it, minus a bare process's, MB (median of 3). */
  rssMb: number;
  /** Time the import took, ms (median of 3). */
  ms: number;
}

export interface SpawnCost {
  /** RSS of the spawning process, MB. */
  rssMb: number;
  /** One spawn of /bin/true, start to exit, ms (median of 20). */
  ms: number;
}

const node = (): string => process.execPath;
const median = (xs: number[]): number =>
  [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;

function probe(script: string): { rssMb: number; ms: number } {
  const out = execFileSync(node(), ["--input-type=module", "-e", script], {
    cwd: repoRoot,
    encoding: "utf8",
  });
  return JSON.parse(out) as { rssMb: number; ms: number };
}

const importScript = (specifier: string): string => `
  const t = performance.now();
  ${specifier ? `await import(${JSON.stringify(specifier)});` : ""}
  const ms = performance.now() - t;
  globalThis.gc?.();
  process.stdout.write(JSON.stringify({ rssMb: process.memoryUsage.rss() / 1048576, ms }));
`;

/**
 * The libraries the runtime loads (ajv: what the precompiled validator spares),
 * and our own entry points as the image ships them (bundled), the autoscaler's
 * also as tsc leaves it (one file per module): `npm run build` first.
 */
export const IMPORTED = [
  "pino",
  "ajv",
  "yaml",
  "@kubernetes/client-node",
  "./dist/cmd/autoscaler.js",
  "./dist/bundle/autoscaler.js",
  "./dist/bundle/operator.js",
];

export function measureImports(): ImportCost[] {
  const baseline = median([0, 1, 2].map(() => probe(importScript("")).rssMb));
  return IMPORTED.map((module) => {
    const runs = [0, 1, 2].map(() => probe(importScript(module)));
    return {
      module,
      rssMb: round(median(runs.map((r) => r.rssMb)) - baseline),
      ms: round(median(runs.map((r) => r.ms))),
    };
  });
}

/** Spawns of /bin/true from processes holding 0, 100 and 300 MB of heap. */
export function measureSpawnCost(): SpawnCost[] {
  return [0, 100, 300].map((mb) => {
    const script = `
      import { spawnSync } from "node:child_process";
      const ballast = Array.from({ length: ${mb} }, () => Buffer.alloc(1048576, 1));
      const times = [];
      for (let i = 0; i < 20; i++) {
        const t = performance.now();
        spawnSync("/bin/true");
        times.push(performance.now() - t);
      }
      times.sort((a, b) => a - b);
      process.stdout.write(JSON.stringify({ rssMb: process.memoryUsage.rss() / 1048576, ms: times[10], keep: ballast.length }));
    `;
    const r = probe(script);
    return { rssMb: round(r.rssMb), ms: round(r.ms) };
  });
}

export interface CacheCost {
  kind: string;
  /** Heap per object as the API sends it, and as the operator's cache keeps it, bytes. */
  rawBytes: number;
  keptBytes: number;
}

/**
 * The operator's cache, per object: 2,000 Pods and CPAs shaped as the API
 * returns them (managedFields, the Pod's spec and status) held as they come,
 * then as cache.ts keeps them, each in a fresh process with the heap measured
 * after a full GC.
 */
export function measureCacheCost(): CacheCost[] {
  const script = (kind: string, keep: boolean): string => `
    import { keepFor } from "./dist/operator/cache.js";
    const n = 2000;
    const make = ${JSON.stringify(kind)} === "Pod" ? (i) => ({
      apiVersion: "v1", kind: "Pod",
      metadata: {
        name: "scaler-" + i, namespace: "team-a", uid: "0d6b6a52-8b0e-4e55-9d37-" + String(i).padStart(12, "0"),
        resourceVersion: String(100000 + i), creationTimestamp: "2026-11-27T12:00:00Z",
        labels: { "app.kubernetes.io/managed-by": "custom-pod-autoscaler-operator", "v1.custompodautoscaler.com/owned-by": "scaler-" + i },
        annotations: { "v1.custompodautoscaler.com/pod-template-hash": "3f1c2b9a8d7e6f50", "cluster-autoscaler.kubernetes.io/safe-to-evict": "true" },
        ownerReferences: [{ apiVersion: "custompodautoscaler.com/v1", kind: "CustomPodAutoscaler", name: "scaler-" + i, uid: "c" + i, controller: true, blockOwnerDeletion: true }],
        managedFields: [{ manager: "cpa-operator", operation: "Update", apiVersion: "v1", time: "2026-11-27T12:00:00Z", fieldsType: "FieldsV1",
          fieldsV1: { "f:metadata": { "f:annotations": { ".": {}, "f:v1.custompodautoscaler.com/pod-template-hash": {} }, "f:labels": { ".": {} } },
                      "f:spec": { "f:containers": { 'k:{"name":"scaler"}': { ".": {}, "f:env": {}, "f:image": {}, "f:name": {}, "f:securityContext": {} } } } } }],
      },
      spec: {
        serviceAccountName: "scaler-" + i, restartPolicy: "Always", terminationGracePeriodSeconds: 30, dnsPolicy: "ClusterFirst",
        securityContext: { seccompProfile: { type: "RuntimeDefault" } }, schedulerName: "default-scheduler", nodeName: "node-1",
        containers: [{ name: "scaler", image: "registry.example.com/scaler:1.0", imagePullPolicy: "IfNotPresent",
          env: [{ name: "scaleTargetRef", value: '{"kind":"Deployment","name":"web","apiVersion":"apps/v1"}' }, { name: "namespace", value: "team-a" },
                { name: "interval", value: "15000" }, { name: "CPA_NAME", value: "scaler-" + i }],
          securityContext: { allowPrivilegeEscalation: false }, terminationMessagePolicy: "FallbackToLogsOnError", terminationMessagePath: "/dev/termination-log",
          volumeMounts: [{ name: "kube-api-access", mountPath: "/var/run/secrets/kubernetes.io/serviceaccount", readOnly: true }] }],
        volumes: [{ name: "kube-api-access", projected: { sources: [{ serviceAccountToken: { expirationSeconds: 3607, path: "token" } }] } }],
        tolerations: [{ key: "node.kubernetes.io/not-ready", operator: "Exists", effect: "NoExecute", tolerationSeconds: 300 }],
      },
      status: {
        phase: "Running", hostIP: "10.0.0.10", podIP: "10.244.0." + (i % 250), startTime: "2026-11-27T12:00:01Z", qosClass: "BestEffort",
        conditions: ["PodScheduled", "Initialized", "ContainersReady", "Ready"].map((type) => ({ type, status: "True", lastTransitionTime: "2026-11-27T12:00:01Z" })),
        containerStatuses: [{ name: "scaler", ready: true, started: true, restartCount: 0, image: "registry.example.com/scaler:1.0", imageID: "", containerID: "containerd://" + i,
          state: { running: { startedAt: "2026-11-27T12:00:02Z" } } }],
      },
    }) : (i) => ({
      apiVersion: "custompodautoscaler.com/v1", kind: "CustomPodAutoscaler",
      metadata: { name: "scaler-" + i, namespace: "team-a", uid: "c" + i, generation: 1, resourceVersion: String(i), creationTimestamp: "2026-11-27T12:00:00Z",
        managedFields: [{ manager: "kubectl", operation: "Apply", fieldsV1: { "f:spec": { "f:template": {}, "f:scaleTargetRef": {}, "f:config": {} } } },
                        { manager: "cpa-operator", operation: "Apply", subresource: "status", fieldsV1: { "f:status": { "f:conditions": {} } } }] },
      spec: { template: { spec: { containers: [{ name: "scaler", image: "registry.example.com/scaler:1.0" }] } },
              scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: "web" }, config: [{ name: "interval", value: "15000" }] },
      status: { observedGeneration: 1, reference: "Deployment/web", podName: "scaler-" + i,
        conditions: [{ type: "Provisioned", status: "True", reason: "Provisioned", message: "Provisioned ServiceAccount, Role, RoleBinding, Pod", lastTransitionTime: "2026-11-27T12:00:00Z", observedGeneration: 1 },
                     { type: "Ready", status: "True", reason: "AutoscalerRunning", message: "The autoscaler Pod scaler-" + i + " is running", lastTransitionTime: "2026-11-27T12:00:02Z", observedGeneration: 1 }] },
    });
    const keep = keepFor(${JSON.stringify(kind)});
    globalThis.gc(); const before = process.memoryUsage().heapUsed;
    // Parsed from JSON, as an informer gets them, so nothing is shared between objects.
    const cache = new Map();
    for (let i = 0; i < n; i++) { const o = JSON.parse(JSON.stringify(make(i))); cache.set(i, ${keep ? "keep(o)" : "o"}); }
    globalThis.gc();
    process.stdout.write(JSON.stringify({ rssMb: 0, ms: (process.memoryUsage().heapUsed - before) / n }));
  `;
  const measure = (kind: string, keep: boolean): number => {
    const out = execFileSync(node(), ["--expose-gc", "--input-type=module", "-e", script(kind, keep)], {
      cwd: repoRoot,
      encoding: "utf8",
    });
    return Math.round((JSON.parse(out) as { ms: number }).ms);
  };
  return ["Pod", "CustomPodAutoscaler"].map((kind) => ({
    kind,
    rawBytes: measure(kind, false),
    keptBytes: measure(kind, true),
  }));
}
