// The install bundles (config/) and RBAC (rbac/), built from the CRD and the
// operator's permissions in src/. Written by `npm run gen`.
import type { V1PolicyRule } from "@kubernetes/client-node";
import { customResourceDefinition } from "../src/api/crd.ts";
import { GROUP, PLURAL } from "../src/api/names.ts";
import { admissionPolicy, admissionPolicyBinding } from "../src/operator/admission-policy.ts";
import { podCostPolicy, podCostPolicyBinding } from "../src/operator/pod-cost-policy.ts";
import {
  AGGREGATE_LABEL,
  LEADER_ELECTION_RULES,
  OPERATOR_RULES,
  POLICY_READ_RULES,
} from "../src/operator/permissions.ts";

export const IMAGE = "cpa:0.1.0";
export const OPERATOR_NAMESPACE = "cpa-system";
const NAME = "cpa-operator";
const labels = { "app.kubernetes.io/name": NAME, "app.kubernetes.io/part-of": "cpa" };

const meta = (name: string, namespace?: string, extraLabels: Record<string, string> = {}) => ({
  name,
  ...(namespace ? { namespace } : {}),
  labels: { ...labels, ...extraLabels },
});

/** Reading the admission policy by name, which the operator checks before provisioning. */
export const POLICY_READER = `${NAME}-admission-policy`;

/** ClusterRoles: the operator's (aggregated, so admins can add target kinds) and the users' edit/view. */
export function clusterRoles(): object[] {
  const cpaResources = [PLURAL];
  return [
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRole",
      metadata: meta(NAME),
      aggregationRule: { clusterRoleSelectors: [{ matchLabels: { [AGGREGATE_LABEL]: "true" } }] },
      rules: [],
    },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRole",
      metadata: meta(`${NAME}-base`, undefined, { [AGGREGATE_LABEL]: "true" }),
      rules: OPERATOR_RULES,
    },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRole",
      metadata: meta(POLICY_READER),
      rules: POLICY_READ_RULES,
    },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRole",
      metadata: meta("cpa-edit", undefined, {
        "rbac.authorization.k8s.io/aggregate-to-admin": "true",
        "rbac.authorization.k8s.io/aggregate-to-edit": "true",
      }),
      rules: [
        {
          apiGroups: [GROUP],
          resources: cpaResources,
          verbs: ["create", "delete", "deletecollection", "patch", "update"],
        },
      ],
    },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRole",
      metadata: meta("cpa-view", undefined, {
        "rbac.authorization.k8s.io/aggregate-to-admin": "true",
        "rbac.authorization.k8s.io/aggregate-to-edit": "true",
        "rbac.authorization.k8s.io/aggregate-to-view": "true",
      }),
      rules: [
        {
          apiGroups: [GROUP],
          resources: [...cpaResources, `${PLURAL}/status`],
          verbs: ["get", "list", "watch"],
        },
      ],
    },
  ];
}

function role(name: string, rules: readonly V1PolicyRule[], namespace?: string): object {
  return { apiVersion: "rbac.authorization.k8s.io/v1", kind: "Role", metadata: meta(name, namespace), rules };
}

function roleBinding(kind: "Role" | "ClusterRole", name: string, namespace?: string): object {
  return {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: kind === "Role" ? "RoleBinding" : "ClusterRoleBinding",
    metadata: meta(name, namespace),
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind, name },
    // A RoleBinding's ServiceAccount subject without a namespace means the binding's own.
    subjects: [
      {
        kind: "ServiceAccount",
        name: NAME,
        ...(namespace || kind === "ClusterRole" ? { namespace: namespace ?? OPERATOR_NAMESPACE } : {}),
      },
    ],
  };
}

export function leaderElectionRole(namespace?: string): object {
  return role(`${NAME}-leader-election`, LEADER_ELECTION_RULES, namespace);
}

/**
 * The operator's Deployment. WATCH_NAMESPACE is empty: every namespace, for
 * the cluster bundle; the namespaced install lists its tenants' namespaces
 * there (`kubectl set env deployment/cpa-operator WATCH_NAMESPACE=team-a,team-b`).
 */
export function deployment(namespace: string | undefined): Record<string, unknown> {
  const fieldEnv = (name: string, fieldPath: string) => ({ name, valueFrom: { fieldRef: { fieldPath } } });
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: meta(NAME, namespace),
    spec: {
      // Two replicas with leader election: one reconciles, the other takes over within the lease duration.
      replicas: 2,
      selector: SELECTOR,
      template: {
        metadata: { labels },
        spec: {
          serviceAccountName: NAME,
          // One replica per node where the cluster can: a node's loss or drain leaves the other to lead.
          topologySpreadConstraints: [SPREAD],
          securityContext: {
            runAsNonRoot: true,
            runAsUser: 65532,
            runAsGroup: 65532,
            seccompProfile: { type: "RuntimeDefault" },
          },
          containers: [
            {
              name: "operator",
              image: IMAGE,
              // Explicit, as the apiserver would default it for a tag: a node uses what `kind load` put there.
              imagePullPolicy: "IfNotPresent",
              args: ["operator", "--leader-elect", "--http-address=:8080"],
              env: [
                fieldEnv("POD_NAMESPACE", "metadata.namespace"),
                fieldEnv("SERVICE_ACCOUNT_NAME", "spec.serviceAccountName"),
                { name: "WATCH_NAMESPACE", value: "" },
              ],
              ports: [{ name: "http", containerPort: 8080 }],
              livenessProbe: { httpGet: { path: "/healthz", port: "http" }, periodSeconds: 10 },
              readinessProbe: { httpGet: { path: "/readyz", port: "http" }, periodSeconds: 5 },
              // Measured (docs/benchmarks.md): 69 MB idle, 99 MB at peak provisioning 500 CPAs,
              // about 63 KB more per CPA: the limit holds about 3,000 at that rate.
              resources: { requests: { cpu: "50m", memory: "128Mi" }, limits: { memory: "256Mi" } },
              securityContext: {
                allowPrivilegeEscalation: false,
                readOnlyRootFilesystem: true,
                capabilities: { drop: ["ALL"] },
              },
            },
          ],
        },
      },
    },
  };
}

const SELECTOR = { matchLabels: { "app.kubernetes.io/name": NAME } };

/** Spread the operator's replicas over nodes, softly: a one-node cluster still runs both. */
export const SPREAD = {
  maxSkew: 1,
  topologyKey: "kubernetes.io/hostname",
  whenUnsatisfiable: "ScheduleAnyway",
  labelSelector: SELECTOR,
};

/** A drain evicts one operator replica at a time: the other keeps (or takes) the lease. */
export function podDisruptionBudget(namespace: string | undefined): Record<string, unknown> {
  return {
    apiVersion: "policy/v1",
    kind: "PodDisruptionBudget",
    metadata: meta(NAME, namespace),
    spec: { maxUnavailable: 1, selector: SELECTOR },
  };
}

/** Pod Security admission: the operator's namespace runs nothing that needs more than `restricted`. */
const RESTRICTED = {
  "pod-security.kubernetes.io/enforce": "restricted",
  "pod-security.kubernetes.io/enforce-version": "latest",
};

/** config/cluster.yaml: the operator in cpa-system, managing CPAs in every namespace. */
export function clusterBundle(): object[] {
  const ns = OPERATOR_NAMESPACE;
  return [
    { apiVersion: "v1", kind: "Namespace", metadata: meta(ns, undefined, RESTRICTED) },
    customResourceDefinition(),
    admissionPolicy(),
    admissionPolicyBinding(),
    podCostPolicy(),
    podCostPolicyBinding(),
    { apiVersion: "v1", kind: "ServiceAccount", metadata: meta(NAME, ns) },
    ...clusterRoles(),
    roleBinding("ClusterRole", NAME),
    roleBinding("ClusterRole", POLICY_READER),
    leaderElectionRole(ns),
    roleBinding("Role", `${NAME}-leader-election`, ns),
    deployment(ns),
    podDisruptionBudget(ns),
  ];
}

/**
 * config/namespaced.yaml: `kubectl apply -n OPERATOR_NS -f` installs an
 * operator in a namespace of its own, where tenants create no Pods, managing
 * the namespaces it is bound into (a RoleBinding in each, to the cpa-operator
 * ClusterRole) and WATCH_NAMESPACE lists. Its ServiceAccount never lives where
 * a tenant could run a Pod as it. Cluster-wide it may only read the admission
 * policy, through a ClusterRoleBinding to POLICY_READER that the install's
 * commands create (its subject's namespace is the one applied to).
 */
export function namespacedBundle(): object[] {
  return [
    customResourceDefinition(),
    admissionPolicy(),
    admissionPolicyBinding(),
    podCostPolicy(),
    podCostPolicyBinding(),
    { apiVersion: "v1", kind: "ServiceAccount", metadata: meta(NAME) },
    ...clusterRoles(),
    leaderElectionRole(),
    roleBinding("Role", `${NAME}-leader-election`),
    deployment(undefined),
    podDisruptionBudget(undefined),
  ];
}
