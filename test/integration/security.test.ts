// Creating a CustomPodAutoscaler grants no more than creating a Pod: the
// admission policy checks the requester's own rights, and the operator never
// runs an autoscaler as a ServiceAccount it does not own, nor binds a Role that
// is not the CPA's. Every user here is a ServiceAccount token with exactly the
// rights the test gives it; the operator runs as config/cluster.yaml's
// cpa-operator.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import {
  AppsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  RbacAuthorizationV1Api,
  type V1PolicyRule,
} from "@kubernetes/client-node";
import type { CustomPodAutoscaler } from "../../src/api/custom-pod-autoscaler.ts";
import { TARGET_ANNOTATION_PREFIX } from "../../src/operator/admission-policy.ts";
import { adminConfig, eventually, kubectl, kubectlAs, statusOf, testNamespace } from "../support/kube.ts";
import { installBundleWithoutItsOperator } from "../support/fixtures.ts";
import { repoFile, serviceAccountKubeconfig, startOperator } from "../support/processes.ts";

const admin = adminConfig();
const core = admin.makeApiClient(CoreV1Api);
const apps = admin.makeApiClient(AppsV1Api);
const rbac = admin.makeApiClient(RbacAuthorizationV1Api);
const custom = admin.makeApiClient(CustomObjectsApi);

const NAME = "python-custom-autoscaler";
const CRD = "custompodautoscalers.custompodautoscaler.com";
const DEPLOYMENT = readFileSync(repoFile("examples", "getting-started", "deployment.yaml"), "utf8");
const CPA = readFileSync(repoFile("examples", "getting-started", "cpa.yaml"), "utf8");
const MANAGED = "app.kubernetes.io/managed-by=custom-pod-autoscaler-operator";

/** The guide's cpa.yaml with more spec fields, inserted before config. */
const cpaWith = (specLines: string, name = NAME): string =>
  CPA.replace(`name: ${NAME}\n`, `name: ${name}\n`).replace("  config:", `${specLines}\n  config:`);

const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const fn of cleanups) await fn();
});

before(async () => {
  await installBundleWithoutItsOperator();
  await startOperator((fn) => cleanups.push(fn), ["--resync=2s"]);
});

/**
 * A user (a ServiceAccount token) who may manage CPAs in the namespace, as the
 * cpa-edit and cpa-view roles allow, plus exactly `rules`. Resolves once the
 * apiserver's authorizer sees every grant.
 */
async function userWith(namespace: string, name: string, rules: V1PolicyRule[] = []): Promise<string> {
  await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name } } });
  const bind = (kind: "ClusterRole" | "Role", role: string) =>
    rbac.createNamespacedRoleBinding({
      namespace,
      body: {
        metadata: { name: `${name}-${role}` },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind, name: role },
        subjects: [{ kind: "ServiceAccount", name, namespace }],
      },
    });
  await bind("ClusterRole", "cpa-edit");
  await bind("ClusterRole", "cpa-view");
  if (rules.length > 0) {
    await rbac.createNamespacedRole({ namespace, body: { metadata: { name: `${name}-extra` }, rules } });
    await bind("Role", `${name}-extra`);
  }
  const kubeconfig = await serviceAccountKubeconfig(namespace, name);
  const checks = [["create", "custompodautoscalers.custompodautoscaler.com"]];
  for (const r of rules) {
    for (const verb of r.verbs) {
      const [resource = "", sub] = (r.resources?.[0] ?? "").split("/");
      const group = r.apiGroups?.[0] ? `.${r.apiGroups[0]}` : "";
      const named = r.resourceNames?.[0] ? `/${r.resourceNames[0]}` : "";
      checks.push([verb, `${resource}${group}${named}`, ...(sub ? [`--subresource=${sub}`] : [])]);
    }
  }
  for (const check of checks) {
    await eventually(`${name} to be allowed to ${check.join(" ")}`, async () => {
      const res = await kubectlAs(kubeconfig, ["auth", "can-i", ...check, "-n", namespace]);
      return res.stdout.trim() === "yes" ? true : undefined;
    });
  }
  return kubeconfig;
}

const CREATE_PODS: V1PolicyRule = { apiGroups: [""], resources: ["pods"], verbs: ["create"] };
/** What the provisioned Role hands the autoscaler beyond its own CPA, for a Deployment target. */
const targetRights = (deployment: string, scaleVerbs = ["get", "update", "patch"]): V1PolicyRule[] => [
  { apiGroups: ["apps"], resources: ["deployments"], resourceNames: [deployment], verbs: ["get"] },
  { apiGroups: ["apps"], resources: ["deployments/scale"], resourceNames: [deployment], verbs: scaleVerbs },
  { apiGroups: [""], resources: ["pods"], verbs: ["get", "list"] },
];
/** Exactly what creating the guide's CPA needs: its Pod, and everything its Role grants beyond the CPA. */
const authorRights = (deployment = "hello-kubernetes"): V1PolicyRule[] => [
  CREATE_PODS,
  ...targetRights(deployment),
];

/**
 * Each verb on each resource (and name) a Role grants, as `kubectl auth can-i`
 * takes it, leaving out the CPA's own object, its status and Events.
 */
function grantsBeyondTheCpa(rules: V1PolicyRule[]): Grant[] {
  return rules.flatMap((rule) =>
    (rule.apiGroups ?? []).flatMap((group) =>
      (rule.resources ?? [])
        .filter((resource) => group !== "custompodautoscaler.com" && resource !== "events")
        .flatMap((resource) =>
          (rule.resourceNames ?? [""]).flatMap((name) =>
            rule.verbs.map((verb) => grant(verb, group, resource, name)),
          ),
        ),
    ),
  );
}

interface Grant {
  verb: string;
  target: string;
  sub?: string;
  words: string;
}

function grant(verb: string, group: string, resource: string, name: string): Grant {
  const [plural = "", sub] = resource.split("/");
  const target = `${plural}${group ? `.${group}` : ""}${name ? `/${name}` : ""}`;
  return { verb, target, ...(sub ? { sub } : {}), words: `${verb} ${target}${sub ? `/${sub}` : ""}` };
}

async function applyAs(kubeconfig: string, namespace: string, manifest: string) {
  return kubectlAs(kubeconfig, ["apply", "-n", namespace, "-f", "-"], manifest);
}

async function applyAsAdmin(namespace: string, manifest: string): Promise<void> {
  const res = await kubectl(["apply", "-n", namespace, "-f", "-"], manifest);
  assert.equal(res.code, 0, res.stderr);
}

async function getCpa(namespace: string, name = NAME): Promise<CustomPodAutoscaler> {
  return (await custom.getNamespacedCustomObject({
    group: "custompodautoscaler.com",
    version: "v1",
    namespace,
    plural: "custompodautoscalers",
    name,
  })) as CustomPodAutoscaler;
}

async function condition(namespace: string, type: string, name = NAME) {
  return (await getCpa(namespace, name)).status?.conditions?.find((c) => c.type === type);
}

async function provisionedFalse(namespace: string, reason: string, name = NAME) {
  return eventually(`Provisioned=False ${reason}`, async () => {
    const c = await condition(namespace, "Provisioned", name);
    return c?.status === "False" && c.reason === reason ? c : undefined;
  });
}

async function runningPod(namespace: string, name = NAME) {
  return eventually(`Pod ${name} to be Running`, async () => {
    const pod = await core.readNamespacedPod({ name, namespace });
    return pod.status?.phase === "Running" && !pod.metadata?.deletionTimestamp ? pod : undefined;
  });
}

async function isGone(read: () => Promise<unknown>): Promise<true | undefined> {
  const code = await read().then(
    () => 200,
    (err: unknown) => statusOf(err),
  );
  return code === 404 ? true : undefined;
}

async function ourPods(namespace: string): Promise<string[]> {
  const pods = await core.listNamespacedPod({ namespace, labelSelector: MANAGED });
  return pods.items.filter((p) => !p.metadata?.deletionTimestamp).map((p) => p.metadata?.name ?? "");
}

async function hasWarning(namespace: string, reason: string, name = NAME): Promise<boolean> {
  const events = await core.listNamespacedEvent({ namespace, fieldSelector: `involvedObject.name=${name}` });
  return events.items.some((e) => e.type === "Warning" && e.reason === reason);
}

/** The operator has had several resyncs (it runs with --resync=2s) to do what it should not. */
const severalResyncs = (): Promise<void> => new Promise((r) => setTimeout(r, 5000));

describe("admission: a CPA's author needs the rights the operator uses for them", () => {
  test("a user who may only manage CPAs is refused at kubectl apply, with the missing permission named", async (t) => {
    const ns = await testNamespace(t);
    await applyAsAdmin(ns, DEPLOYMENT);
    const alice = await userWith(ns, "alice");
    const res = await applyAs(alice, ns, CPA);
    assert.notEqual(res.code, 0, "the CPA was accepted");
    assert.match(
      res.stderr,
      new RegExp(
        `system:serviceaccount:${ns}:alice may not create pods in namespace ${ns}, which this CustomPodAutoscaler needs`,
      ),
    );
    assert.equal(await isGone(() => getCpa(ns)), true);
  });

  test("Pod rights alone are not enough: the target is named next", async (t) => {
    const ns = await testNamespace(t);
    await applyAsAdmin(ns, DEPLOYMENT);
    const bob = await userWith(ns, "bob", [CREATE_PODS, ...targetRights("some-other-deployment")]);
    const res = await applyAs(bob, ns, CPA);
    assert.notEqual(res.code, 0, "the CPA was accepted");
    assert.match(res.stderr, /may not get deployments\.apps\/hello-kubernetes in namespace/);
  });

  test("each right the Role grants beyond the CPA is checked: without list pods, the denial names it", async (t) => {
    const ns = await testNamespace(t);
    await applyAsAdmin(ns, DEPLOYMENT);
    const rights = [
      CREATE_PODS,
      ...targetRights("hello-kubernetes").filter((r) => r.resources?.[0] !== "pods"),
      { apiGroups: [""], resources: ["pods"], verbs: ["get"] },
    ];
    const ivan = await userWith(ns, "ivan", rights);
    const res = await applyAs(ivan, ns, CPA);
    assert.notEqual(res.code, 0, "the CPA was accepted");
    assert.match(
      res.stderr,
      /may not list pods in namespace .*, which this CustomPodAutoscaler needs: its autoscaler lists/,
    );
  });

  test("with exactly the named rights, the CPA's ServiceAccount can do nothing its author cannot beyond its own CPA", async (t) => {
    const ns = await testNamespace(t);
    await applyAsAdmin(ns, DEPLOYMENT);
    const judy = await userWith(ns, "judy", authorRights());
    const res = await applyAs(judy, ns, CPA);
    assert.equal(res.code, 0, res.stderr);
    const role = await eventually("the provisioned Role", () =>
      rbac.readNamespacedRole({ name: NAME, namespace: ns }),
    );
    const as = (who: string) => `--as=system:serviceaccount:${ns}:${who}`;
    const checked: string[] = [];
    for (const { verb, target, sub, words } of grantsBeyondTheCpa(role.rules ?? [])) {
      const args = ["auth", "can-i", verb, target, "-n", ns, ...(sub ? [`--subresource=${sub}`] : [])];
      // The RoleBinding comes a moment after the Role, and the authorizer's caches a moment later.
      await eventually(`the CPA's ServiceAccount to be allowed to ${words}`, async () =>
        (await kubectl([...args, as(NAME)])).stdout.trim() === "yes" ? true : undefined,
      );
      const author = await kubectl([...args, as("judy")]);
      assert.equal(author.stdout.trim(), "yes", `the CPA's ServiceAccount may ${words}, its author not`);
      checked.push(words);
    }
    assert.deepEqual(checked.sort(), [
      "get deployments.apps/hello-kubernetes",
      "get deployments.apps/hello-kubernetes/scale",
      "get pods",
      "list pods",
      "patch deployments.apps/hello-kubernetes/scale",
      "update deployments.apps/hello-kubernetes/scale",
    ]);
  });

  test("a user who may create Pods and scale the target succeeds, and the Pod gets the security defaults", async (t) => {
    const ns = await testNamespace(t);
    await applyAsAdmin(ns, DEPLOYMENT);
    const carol = await userWith(ns, "carol", authorRights());
    const res = await applyAs(carol, ns, CPA);
    assert.equal(res.code, 0, res.stderr);
    const pod = await runningPod(ns);
    assert.equal(pod.spec?.serviceAccountName, NAME);
    assert.equal(pod.spec.securityContext?.seccompProfile?.type, "RuntimeDefault");
    assert.equal(pod.spec.containers[0]?.securityContext?.allowPrivilegeEscalation, false);
  });

  test("pausing needs the right to scale the target; other metadata changes do not", async (t) => {
    const ns = await testNamespace(t);
    await applyAsAdmin(ns, DEPLOYMENT);
    await applyAsAdmin(ns, CPA);
    // Everything but the scale verbs the pause needs.
    const dave = await userWith(ns, "dave", [CREATE_PODS, ...targetRights("hello-kubernetes", ["get"])]);
    const pause = await kubectlAs(dave, [
      "annotate",
      "cpa",
      NAME,
      "-n",
      ns,
      "v1.custompodautoscaler.com/paused-replicas=5",
    ]);
    assert.notEqual(pause.code, 0, "the pause was accepted");
    assert.match(pause.stderr, /may not update deployments\.apps\/hello-kubernetes\/scale/);
    const label = await kubectlAs(dave, ["label", "cpa", NAME, "-n", ns, "team=a"]);
    assert.equal(label.code, 0, label.stderr);
    const scale = await apps.readNamespacedDeploymentScale({ name: "hello-kubernetes", namespace: ns });
    assert.equal(scale.spec?.replicas, 1);
  });

  test("a shadow needs no /scale write; turning it live, or pausing it, does, and its Role never holds one", async (t) => {
    const ns = await testNamespace(t);
    await applyAsAdmin(ns, DEPLOYMENT);
    // Everything a live CPA needs, but the /scale writes.
    const erin = await userWith(ns, "erin", [CREATE_PODS, ...targetRights("hello-kubernetes", ["get"])]);
    const live = await applyAs(erin, ns, CPA);
    assert.notEqual(live.code, 0, "a live CPA was accepted without the /scale write");
    assert.match(live.stderr, /may not update deployments\.apps\/hello-kubernetes\/scale/);
    const shadowCpa = CPA.replace(
      `name: ${NAME}\n`,
      `name: ${NAME}\n  annotations:\n    custompodautoscaler.com/shadow: "true"\n`,
    );
    const shadow = await applyAs(erin, ns, shadowCpa);
    assert.equal(shadow.code, 0, shadow.stderr);
    const role = await eventually("the shadow's Role", async () =>
      rbac.readNamespacedRole({ namespace: ns, name: NAME }).catch(() => undefined),
    );
    assert.deepEqual(role.rules?.find((r) => r.resources?.includes("deployments/scale"))?.verbs, ["get"]);
    for (const change of [
      ["annotate", "cpa", NAME, "-n", ns, "custompodautoscaler.com/shadow-"],
      ["annotate", "cpa", NAME, "-n", ns, "--overwrite", "custompodautoscaler.com/shadow=false"],
      ["annotate", "cpa", NAME, "-n", ns, "v1.custompodautoscaler.com/paused-replicas=5"],
    ]) {
      const res = await kubectlAs(erin, change);
      assert.notEqual(res.code, 0, `accepted: kubectl ${change.join(" ")}`);
      assert.match(res.stderr, /may not update deployments\.apps\/hello-kubernetes\/scale/);
    }
    const label = await kubectlAs(erin, ["label", "cpa", NAME, "-n", ns, "team=a"]);
    assert.equal(label.code, 0, label.stderr);
    // A cluster admin may turn it live: the Role then grants the write.
    await kubectl(["annotate", "cpa", NAME, "-n", ns, "custompodautoscaler.com/shadow-"]);
    await eventually("the live Role's /scale write", async () => {
      const r = await rbac.readNamespacedRole({ namespace: ns, name: NAME });
      return r.rules?.find((x) => x.resources?.includes("deployments/scale"))?.verbs.includes("update")
        ? true
        : undefined;
    });
  });

  test("bringing your own Role (provisionRole: false) needs bind on it, which RBAC's own rule would not ask", async (t) => {
    const ns = await testNamespace(t);
    await applyAsAdmin(ns, DEPLOYMENT);
    const basic = authorRights();
    const erin = await userWith(ns, "erin", basic);
    const manifest = cpaWith("  provisionRole: false");
    const refused = await applyAs(erin, ns, manifest);
    assert.notEqual(refused.code, 0, "the CPA was accepted");
    assert.match(
      refused.stderr,
      new RegExp(`may not bind roles.rbac.authorization.k8s.io/${NAME} in namespace`),
    );
    const bind = {
      apiGroups: ["rbac.authorization.k8s.io"],
      resources: ["roles"],
      resourceNames: [NAME],
      verbs: ["bind"],
    };
    const frank = await userWith(ns, "frank", [...basic, bind]);
    const accepted = await applyAs(frank, ns, manifest);
    assert.equal(accepted.code, 0, accepted.stderr);
  });

  test("roleRequiresMetricsServer needs the metrics APIs the Role would grant", async (t) => {
    const ns = await testNamespace(t);
    await applyAsAdmin(ns, DEPLOYMENT);
    const gina = await userWith(ns, "gina", authorRights());
    const res = await applyAs(gina, ns, cpaWith("  roleRequiresMetricsServer: true"));
    assert.notEqual(res.code, 0, "the CPA was accepted");
    assert.match(res.stderr, /may not get pods\.metrics\.k8s\.io in namespace/);
  });

  test("roleRequiresPodDeletionCost needs patch pods; its ServiceAccount may then change only the cost of its target's Pods", async (t) => {
    const ns = await testNamespace(t);
    await applyAsAdmin(ns, DEPLOYMENT);
    await applyAsAdmin(ns, DEPLOYMENT.replace(/hello-kubernetes/g, "other"));
    const flagged = cpaWith("  roleRequiresPodDeletionCost: true");
    const gina = await userWith(ns, "gina", authorRights());
    const refused = await applyAs(gina, ns, flagged);
    assert.notEqual(refused.code, 0, "the CPA was accepted");
    assert.match(refused.stderr, /may not patch pods in namespace .*roleRequiresPodDeletionCost/);

    const PATCH_PODS: V1PolicyRule = { apiGroups: [""], resources: ["pods"], verbs: ["patch"] };
    const hal = await userWith(ns, "hal", [...authorRights(), PATCH_PODS]);
    const accepted = await applyAs(hal, ns, flagged);
    assert.equal(accepted.code, 0, accepted.stderr);
    await eventually("the Role to grant patch pods", async () => {
      const role = await rbac.readNamespacedRole({ name: NAME, namespace: ns }).catch(() => undefined);
      return role?.rules?.some((r) => r.resources?.includes("pods") && r.verbs.includes("patch"))
        ? true
        : undefined;
    });
    const podOf = (app: string) =>
      eventually(`a Pod of ${app}`, async () => {
        const pods = await core.listNamespacedPod({ namespace: ns, labelSelector: `app=${app}` });
        return pods.items[0]?.metadata?.name;
      });
    const mine = await podOf("hello-kubernetes");
    const theirs = await podOf("other");
    const autoscaler = await serviceAccountKubeconfig(ns, NAME);
    const as = (args: string[]) => kubectlAs(autoscaler, [...args, "-n", ns]);
    const cost = "controller.kubernetes.io/pod-deletion-cost";
    await eventually("the autoscaler's account to be allowed to patch pods", async () =>
      (await as(["auth", "can-i", "patch", "pods"])).stdout.trim() === "yes" ? true : undefined,
    );

    const set = await as(["annotate", "pod", mine, `${cost}=-3`]);
    assert.equal(set.code, 0, set.stderr);
    const cleared = await as(["annotate", "pod", mine, `${cost}-`]);
    assert.equal(cleared.code, 0, cleared.stderr);

    const onlyCost =
      /runs the autoscaler of CustomPodAutoscaler python-custom-autoscaler, whose roleRequiresPodDeletionCost lets it change only the controller\.kubernetes\.io\/pod-deletion-cost annotation of /;
    const image = await as([
      "patch",
      "pod",
      mine,
      "--type=json",
      "-p",
      '[{"op":"replace","path":"/spec/containers/0/image","value":"busybox"}]',
    ]);
    assert.notEqual(image.code, 0, "the autoscaler's account changed a Pod's image");
    assert.match(image.stderr, onlyCost);
    const label = await as(["label", "pod", mine, "stolen=yes"]);
    assert.notEqual(label.code, 0, "the autoscaler's account changed a Pod's labels");
    assert.match(label.stderr, onlyCost);
    const annotation = await as(["annotate", "pod", mine, "other=x"]);
    assert.notEqual(annotation.code, 0, "the autoscaler's account set another annotation");
    const foreign = await as(["annotate", "pod", theirs, `${cost}=-3`]);
    assert.notEqual(foreign.code, 0, "the autoscaler's account set the cost of another Deployment's Pod");
    assert.match(
      foreign.stderr,
      new RegExp(`the Pods of its target hello-kubernetes, and Pod ${theirs} is not one`),
    );
  });

  test("a scaleTargetRef.apiVersion that is not group/version is refused by the CRD, naming the field", async (t) => {
    const ns = await testNamespace(t);
    const manifest = cpaWith("").replace(
      "    apiVersion: apps/v1\n    kind: Deployment",
      "    apiVersion: apps\n    kind: ReplicationController",
    );
    const res = await kubectl(["apply", "-n", ns, "-f", "-"], manifest);
    assert.notEqual(res.code, 0, "the CPA was accepted");
    assert.match(
      res.stderr,
      /spec\.scaleTargetRef\.apiVersion: Invalid value: .*must be group\/version, e\.g\. apps\/v1, or v1 for the core group, not apps/,
    );
  });

  test("a kind the policy does not know is refused until a cluster admin maps it on the CRD", async (t) => {
    const ns = await testNamespace(t);
    const widget = cpaWith("").replace(
      "    apiVersion: apps/v1\n    kind: Deployment",
      "    apiVersion: example.com/v1\n    kind: Widget",
    );
    const henry = await userWith(ns, "henry", [CREATE_PODS]);
    const unknown = await applyAs(henry, ns, widget);
    assert.notEqual(unknown.code, 0, "the CPA was accepted");
    assert.match(
      unknown.stderr,
      new RegExp(
        `annotation ${TARGET_ANNOTATION_PREFIX.replace(/\./g, "\\.")}Widget\\.example\\.com=<plural resource> on the CustomResourceDefinition ${CRD}`,
      ),
    );
    const annotation = `${TARGET_ANNOTATION_PREFIX}Widget.example.com`;
    t.after(async () => {
      await kubectl(["annotate", "crd", CRD, `${annotation}-`]);
    });
    assert.equal((await kubectl(["annotate", "crd", CRD, `${annotation}=widgets`])).code, 0);
    const mapped = await eventually("the policy to read the new mapping", async () => {
      const res = await applyAs(henry, ns, widget);
      return res.stderr.includes("widgets.example.com") ? res : undefined;
    });
    assert.match(mapped.stderr, /may not get widgets\.example\.com\/hello-kubernetes in namespace/);
  });
});

describe("the ServiceAccount the autoscaler runs as", () => {
  test("a CPA named after a ServiceAccount it does not own gets no Pod, a status that says why, and a Warning", async (t) => {
    const ns = await testNamespace(t);
    await applyAsAdmin(ns, DEPLOYMENT);
    // A powerful ServiceAccount someone else made.
    await core.createNamespacedServiceAccount({ namespace: ns, body: { metadata: { name: NAME } } });
    await rbac.createNamespacedRoleBinding({
      namespace: ns,
      body: {
        metadata: { name: "powerful" },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "admin" },
        subjects: [{ kind: "ServiceAccount", name: NAME, namespace: ns }],
      },
    });
    await applyAsAdmin(ns, CPA);
    const cond = await provisionedFalse(ns, "ResourceExists");
    assert.match(
      cond.message,
      new RegExp(
        `ServiceAccount ${NAME} already exists and is not managed by this CustomPodAutoscaler; no autoscaler Pod runs`,
      ),
    );
    assert.equal((await condition(ns, "Ready"))?.status, "False");
    assert.ok(await hasWarning(ns, "ResourceExists"), "no Warning event");
    await severalResyncs();
    assert.deepEqual(await ourPods(ns), []);
    assert.equal(await isGone(() => rbac.readNamespacedRoleBinding({ name: NAME, namespace: ns })), true);
  });

  test("a ServiceAccount taken from the CPA stops its Pod and unbinds its Role", async (t) => {
    const ns = await testNamespace(t);
    await applyAsAdmin(ns, DEPLOYMENT);
    await applyAsAdmin(ns, CPA);
    await runningPod(ns);
    const orphan = await kubectl([
      "patch",
      "serviceaccount",
      NAME,
      "-n",
      ns,
      "--type=json",
      "-p",
      '[{"op":"remove","path":"/metadata/ownerReferences"}]',
    ]);
    assert.equal(orphan.code, 0, orphan.stderr);
    await provisionedFalse(ns, "ResourceExists");
    await eventually("the Pod to go", async () => ((await ourPods(ns)).length === 0 ? true : undefined));
    await eventually("the RoleBinding to go", () =>
      isGone(() => rbac.readNamespacedRoleBinding({ name: NAME, namespace: ns })),
    );
  });

  test("a CPA that would run as the operator's own ServiceAccount gets no Pod", async (t) => {
    // The cluster install's operator runs as cpa-system/cpa-operator.
    const ns = "cpa-system";
    const cases = [
      { name: "cpa-operator", spec: "" },
      {
        name: "borrower",
        spec: "  provisionServiceAccount: false\n  provisionRole: false\n  provisionRoleBinding: false",
      },
    ];
    for (const c of cases) {
      const manifest = cpaWith(c.spec, c.name).replace(
        "      containers:",
        "      serviceAccountName: cpa-operator\n      containers:",
      );
      t.after(async () => {
        await kubectl(["delete", "cpa", c.name, "-n", ns, "--ignore-not-found"]);
      });
      await applyAsAdmin(ns, manifest);
      const cond = await provisionedFalse(ns, "ServiceAccountForbidden", c.name);
      assert.match(cond.message, /may not run as ServiceAccount cpa-operator: it is the operator's own/);
    }
    await severalResyncs();
    assert.deepEqual(await ourPods(ns), []);
    const sa = await core.readNamespacedServiceAccount({ name: "cpa-operator", namespace: ns });
    assert.equal(sa.metadata?.ownerReferences, undefined, "the operator's ServiceAccount was adopted");
  });

  test("a migrated Go-CPA manifest with provisionServiceAccount: false and no serviceAccountName runs as the CPA's name", async (t) => {
    const ns = await testNamespace(t);
    await applyAsAdmin(ns, DEPLOYMENT);
    await core.createNamespacedServiceAccount({ namespace: ns, body: { metadata: { name: NAME } } });
    await applyAsAdmin(ns, cpaWith("  provisionServiceAccount: false"));
    const pod = await runningPod(ns);
    assert.equal(pod.spec?.serviceAccountName, NAME);
    // The RoleBinding is written beside the Pod, so it may come a moment after the Pod runs.
    const binding = await eventually("the RoleBinding", () =>
      rbac.readNamespacedRoleBinding({ name: NAME, namespace: ns }),
    );
    assert.deepEqual(
      binding.subjects?.map((s) => s.name),
      [NAME],
    );
    await eventually("Ready=True", async () =>
      (await condition(ns, "Ready"))?.status === "True" ? true : undefined,
    );
  });

  test("binding the Role to a ServiceAccount not named like the CPA needs create rolebindings; the original's pattern does not", async (t) => {
    const ns = await testNamespace(t);
    await applyAsAdmin(ns, DEPLOYMENT);
    const asDefault = cpaWith("  provisionServiceAccount: false").replace(
      "      containers:",
      "      serviceAccountName: default\n      containers:",
    );
    const kate = await userWith(ns, "kate", authorRights());
    const refused = await applyAs(kate, ns, asDefault);
    assert.notEqual(refused.code, 0, "the CPA was accepted");
    assert.match(
      refused.stderr,
      /may not create rolebindings\.rbac\.authorization\.k8s\.io in namespace .*spec\.template\.spec\.serviceAccountName, a ServiceAccount not named like the CPA/,
    );
    // The original's "Using Custom Resources": the account named like the CPA, brought by the user.
    await core.createNamespacedServiceAccount({ namespace: ns, body: { metadata: { name: NAME } } });
    const original = await applyAs(kate, ns, cpaWith("  provisionServiceAccount: false"));
    assert.equal(original.code, 0, original.stderr);
    const bindings: V1PolicyRule = {
      apiGroups: ["rbac.authorization.k8s.io"],
      resources: ["rolebindings"],
      verbs: ["create"],
    };
    const leo = await userWith(ns, "leo", [...authorRights(), bindings]);
    const accepted = await applyAs(leo, ns, asDefault);
    assert.equal(accepted.code, 0, accepted.stderr);
  });

  test("provisionServiceAccount: false with a serviceAccountName runs as it (workload identity), and binds the Role to it", async (t) => {
    const ns = await testNamespace(t);
    await applyAsAdmin(ns, DEPLOYMENT);
    await core.createNamespacedServiceAccount({
      namespace: ns,
      body: { metadata: { name: "cloud-identity" } },
    });
    await applyAsAdmin(
      ns,
      cpaWith("  provisionServiceAccount: false").replace(
        "      containers:",
        "      serviceAccountName: cloud-identity\n      containers:",
      ),
    );
    const pod = await runningPod(ns);
    assert.equal(pod.spec?.serviceAccountName, "cloud-identity");
    const binding = await eventually("the RoleBinding", () =>
      rbac.readNamespacedRoleBinding({ name: NAME, namespace: ns }),
    );
    assert.deepEqual(
      binding.subjects?.map((s) => s.name),
      ["cloud-identity"],
    );
  });
});

describe("the Role the autoscaler gets", () => {
  test("a Role of the CPA's name that is not its own is never bound", async (t) => {
    const ns = await testNamespace(t);
    await applyAsAdmin(ns, DEPLOYMENT);
    await rbac.createNamespacedRole({
      namespace: ns,
      body: {
        metadata: { name: NAME },
        rules: [{ apiGroups: [""], resources: ["secrets"], verbs: ["get"] }],
      },
    });
    await applyAsAdmin(ns, CPA);
    const cond = await provisionedFalse(ns, "ResourceExists");
    assert.match(
      cond.message,
      new RegExp(
        `Role ${NAME} already exists and is not managed by this CustomPodAutoscaler; it is not bound`,
      ),
    );
    await severalResyncs();
    assert.equal(await isGone(() => rbac.readNamespacedRoleBinding({ name: NAME, namespace: ns })), true);
  });

  test("a Role taken from the CPA is unbound", async (t) => {
    const ns = await testNamespace(t);
    await applyAsAdmin(ns, DEPLOYMENT);
    await applyAsAdmin(ns, CPA);
    await eventually("the RoleBinding", () => rbac.readNamespacedRoleBinding({ name: NAME, namespace: ns }));
    const orphan = await kubectl([
      "patch",
      "role",
      NAME,
      "-n",
      ns,
      "--type=json",
      "-p",
      '[{"op":"remove","path":"/metadata/ownerReferences"}]',
    ]);
    assert.equal(orphan.code, 0, orphan.stderr);
    await eventually("the RoleBinding to go", () =>
      isGone(() => rbac.readNamespacedRoleBinding({ name: NAME, namespace: ns })),
    );
    await provisionedFalse(ns, "ResourceExists");
  });

  test("objects that lose the operator's labels are found again and relabelled", async (t) => {
    const ns = await testNamespace(t);
    await applyAsAdmin(ns, DEPLOYMENT);
    await applyAsAdmin(ns, CPA);
    await eventually("the RoleBinding", () => rbac.readNamespacedRoleBinding({ name: NAME, namespace: ns }));
    for (const kind of ["serviceaccount", "role", "rolebinding"]) {
      const res = await kubectl(["label", kind, NAME, "-n", ns, "app.kubernetes.io/managed-by-"]);
      assert.equal(res.code, 0, res.stderr);
    }
    for (const read of [
      () => core.readNamespacedServiceAccount({ name: NAME, namespace: ns }),
      () => rbac.readNamespacedRole({ name: NAME, namespace: ns }),
      () => rbac.readNamespacedRoleBinding({ name: NAME, namespace: ns }),
    ]) {
      await eventually("the label to be back", async () =>
        (await read()).metadata?.labels?.["app.kubernetes.io/managed-by"] === "custom-pod-autoscaler-operator"
          ? true
          : undefined,
      );
    }
  });
});

describe("Pod Security and owner references", () => {
  test("a privileged template in a namespace that enforces restricted is refused to the operator too", async (t) => {
    const ns = await testNamespace(t);
    await kubectl(["label", "namespace", ns, "pod-security.kubernetes.io/enforce=restricted"]);
    await applyAsAdmin(ns, DEPLOYMENT);
    await applyAsAdmin(
      ns,
      CPA.replace("        imagePullPolicy: IfNotPresent", "        securityContext: {privileged: true}"),
    );
    const cond = await provisionedFalse(ns, "PodRejected");
    assert.match(cond.message, /violates PodSecurity "restricted:latest"/);
  });

  const examples = [
    { example: "per-pod", level: "restricted" },
    { example: "module", level: "restricted" },
    { example: "http", level: "restricted" },
    // Kept as the guide has it: it sets no securityContext, and the operator's defaults make it baseline.
    { example: "getting-started", level: "baseline" },
  ];
  for (const { example, level } of examples) {
    test(`examples/${example}/cpa.yaml runs in a namespace that enforces ${level}`, async (t) => {
      const ns = await testNamespace(t);
      await kubectl(["label", "namespace", ns, `pod-security.kubernetes.io/enforce=${level}`]);
      const manifest = readFileSync(repoFile("examples", example, "cpa.yaml"), "utf8");
      await applyAsAdmin(ns, manifest);
      const name = /^ {2}name: (\S+)$/m.exec(manifest)?.[1] ?? "";
      await eventually(`Provisioned=True for ${name}`, async () => {
        const c = await condition(ns, "Provisioned", name);
        if (c?.status === "False") throw new Error(c.message);
        return c?.status === "True" ? true : undefined;
      });
      await runningPod(ns, name);
    });
  }

  test("examples/network-policy.yaml is a valid NetworkPolicy", async (t) => {
    const ns = await testNamespace(t);
    const res = await kubectl([
      "apply",
      "--dry-run=server",
      "-n",
      ns,
      "-f",
      repoFile("examples", "network-policy.yaml"),
    ]);
    assert.equal(res.code, 0, res.stderr);
  });

  test("the test plane enforces OwnerReferencesPermissionEnforcement, so provisioning proves the finalizers right", async (t) => {
    const ns = await testNamespace(t);
    await applyAsAdmin(ns, DEPLOYMENT);
    await applyAsAdmin(ns, CPA);
    const uid = (await getCpa(ns)).metadata.uid ?? "";
    const ivan = await userWith(ns, "ivan", [
      { apiGroups: [""], resources: ["configmaps"], verbs: ["create"] },
    ]);
    const blocking = `
apiVersion: v1
kind: ConfigMap
metadata:
  name: blocker
  ownerReferences:
    - {apiVersion: custompodautoscaler.com/v1, kind: CustomPodAutoscaler, name: ${NAME}, uid: ${uid}, blockOwnerDeletion: true}
`;
    const res = await kubectlAs(ivan, ["create", "-n", ns, "-f", "-"], blocking);
    assert.notEqual(res.code, 0, "the ConfigMap was created");
    assert.match(res.stderr, /cannot set blockOwnerDeletion/);
  });
});
