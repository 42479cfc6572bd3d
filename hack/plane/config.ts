import { join } from "node:path";

/** Versions of the test control plane; bump here and rerun hack/controlplane/gen-gomod.sh. */
export const KUBERNETES_VERSION = "v1.34.4";
export const KWOK_VERSION = "v0.8.0";
/** The Helm the chart is tested with (charts/cpa), built from the Go module proxy like the plane. */
export const HELM_VERSION = "v3.22.0";
/** Checks .github/workflows, built from the Go module proxy like helm. */
export const ACTIONLINT_VERSION = "v1.7.12";

export const repoRoot = join(import.meta.dirname, "..", "..");

/** Everything built or started lives under one gitignored cache folder. */
export const cacheDir = process.env["CPA_CACHE_DIR"] ?? join(repoRoot, ".cache");
export const binDir = join(cacheDir, "bin");
export const stateDir = process.env["CPA_CLUSTER_DIR"] ?? join(cacheDir, "cluster");

export const kubePlaneBinary = join(binDir, `kube-plane-${KUBERNETES_VERSION}`);
export const kwokBinary = join(binDir, `kwok-${KWOK_VERSION}`);
export const kwokStagesFile = join(binDir, `kwok-stages-${KWOK_VERSION}.yaml`);
export const helmBinary = join(binDir, `helm-${HELM_VERSION}`);
export const actionlintBinary = join(binDir, `actionlint-${ACTIONLINT_VERSION}`);

/** The one fake node every test cluster has. */
export const FAKE_NODE_NAME = "kwok-node-0";
/** The node the local kubelet (hack/local-pods) registers and runs Pods on. */
export const LOCAL_NODE_NAME = "cpa-local-node";

/**
 * The apiserver's audit log: every request a ServiceAccount makes, at Metadata
 * level (who, verb, resource; no bodies). The operator's permissions test
 * derives what the operator sends from it.
 */
export const auditLogPath = join(stateDir, "logs", "audit.log");
