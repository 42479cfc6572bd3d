// docs/migrating.md on the real control plane: an install laid out like the
// original's (its CRD and operator in one bundle; CPAs with the ServiceAccount,
// Role, RoleBinding and Pod the original provisioned for each), then the page's
// removal and install steps, run as written (test/support/doc-shell.ts). Every
// CPA and every one of its objects must survive; the new operator adopts them,
// and rolling back keeps them too. The original operator's own Pod is the fake
// node's: what matters here is what the steps delete, not what it would do.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test, type TestContext } from "node:test";
import { CoreV1Api, RbacAuthorizationV1Api } from "@kubernetes/client-node";
import { parse, parseAllDocuments, stringify } from "yaml";
import {
  API_VERSION,
  GROUP,
  KIND,
  MANAGED_BY_LABEL,
  MANAGED_BY_VALUE,
  OWNED_BY_LABEL,
  PLURAL,
  POD_HASH_ANNOTATION,
} from "../../src/api/names.ts";
import { DocShell, wordsIn } from "../support/doc-shell.ts";
import { adminConfig, eventually, kubectl, testNamespace } from "../support/kube.ts";
import { cleanupOf, repoFile, startOperator } from "../support/processes.ts";

const admin = adminConfig();
const core = admin.makeApiClient(CoreV1Api);
const rbac = admin.makeApiClient(RbacAuthorizationV1Api);
const CRD = `${PLURAL}.${GROUP}`;
const OLD = "custom-pod-autoscaler-operator";
const CPA = "python-custom-autoscaler";
const ORIGINAL_URL =
  "https://github.com/jthomperoo/custom-pod-autoscaler-operator/releases/download/v1.4.2/cluster.yaml";

async function ok(args: string[], input?: string): Promise<string> {
  const res = await kubectl(args, input);
  assert.equal(res.code, 0, `kubectl ${args.join(" ")}: ${res.stderr}`);
  return res.stdout;
}

/** The Deployments, ServiceAccounts, RoleBindings and Roles of a namespace, by name: where an operator lives. */
const operatorObjects = (namespace: string): Promise<string> =>
  ok(["get", "deployment,serviceaccount,rolebinding,role", "-n", namespace, "-o", "name"]);

/** The rules the original granted its operator and each autoscaler: every verb on what it touched. */
const everything = (apiGroups: string[], resources: string[]): object => ({
  apiGroups,
  resources,
  verbs: ["*"],
});

/**
 * An install like the original's release files: the CRD, the operator's
 * ServiceAccount, ClusterRole, ClusterRoleBinding and Deployment, in
 * `namespace`; with `helm`, labelled as a Helm release's objects are.
 */
function originalClusterInstall(namespace: string, helm: boolean): object[] {
  const crd = parse(readFileSync(repoFile("crds", `${GROUP}_${PLURAL}.yaml`), "utf8")) as object;
  const meta = (name: string, namespaced = true): object => ({
    name,
    ...(namespaced ? { namespace } : {}),
    ...(helm
      ? {
          labels: { "app.kubernetes.io/managed-by": "Helm" },
          annotations: { "meta.helm.sh/release-name": OLD, "meta.helm.sh/release-namespace": namespace },
        }
      : {}),
  });
  return [
    crd,
    { apiVersion: "v1", kind: "ServiceAccount", metadata: meta(`${OLD}-cluster`) },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRole",
      metadata: meta(OLD, false),
      rules: [
        everything([""], ["pods", "serviceaccounts", "events", "configmaps", "secrets"]),
        everything(["rbac.authorization.k8s.io"], ["roles", "rolebindings"]),
        everything(["apps"], ["deployments", "deployments/scale", "replicasets", "statefulsets"]),
        everything([GROUP], ["*"]),
      ],
    },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRoleBinding",
      metadata: meta(OLD, false),
      subjects: [{ kind: "ServiceAccount", name: `${OLD}-cluster`, namespace }],
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: OLD },
    },
    originalOperatorDeployment(meta(OLD), `${OLD}-cluster`),
  ];
}

function originalOperatorDeployment(metadata: object, serviceAccount: string): object {
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata,
    spec: {
      replicas: 1,
      selector: { matchLabels: { name: OLD } },
      template: {
        metadata: { labels: { name: OLD } },
        spec: {
          serviceAccountName: serviceAccount,
          containers: [{ name: OLD, image: "custompodautoscaler/operator:v1.4.2" }],
        },
      },
    },
  };
}

/** The original's namespaced install: the same operator with a Role, all named alike, in one namespace. */
function originalNamespacedInstall(namespace: string): object[] {
  const meta = { name: OLD, namespace };
  return [
    { apiVersion: "v1", kind: "ServiceAccount", metadata: meta },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "Role",
      metadata: meta,
      rules: [
        everything([""], ["pods", "serviceaccounts"]),
        everything(["rbac.authorization.k8s.io"], ["roles", "rolebindings"]),
        everything([GROUP], ["*"]),
      ],
    },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "RoleBinding",
      metadata: meta,
      subjects: [{ kind: "ServiceAccount", name: OLD }],
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: OLD },
    },
    originalOperatorDeployment(meta, OLD),
  ];
}

/** Where Helm 3 keeps a release: a Secret labelled with its name. */
function helmReleaseSecret(namespace: string): object {
  return {
    apiVersion: "v1",
    kind: "Secret",
    type: "helm.sh/release.v1",
    metadata: {
      name: `sh.helm.release.v1.${OLD}.v1`,
      namespace,
      labels: { owner: "helm", name: OLD, status: "deployed", version: "1" },
    },
    data: { release: Buffer.from("a release").toString("base64") },
  };
}

const yamlOf = (objects: object[]): string => objects.map((o) => `---\n${stringify(o)}`).join("");

interface Provisioned {
  namespace: string;
  uids: Record<"cpa" | "serviceaccount" | "role" | "rolebinding", string>;
}

/**
 * The guide's app and CPA in a namespace, with what the original operator
 * made for it: its ServiceAccount, a Role granting every verb, the binding,
 * and the autoscaler Pod, each controlled by the CPA.
 */
async function cpaAsTheOriginalLeftIt(t: TestContext): Promise<Provisioned> {
  const namespace = await testNamespace(t);
  await ok(["apply", "-n", namespace, "-f", repoFile("examples", "getting-started", "deployment.yaml")]);
  await ok(["apply", "-n", namespace, "-f", repoFile("examples", "getting-started", "cpa.yaml")]);
  const uid = (await ok(["get", "cpa", CPA, "-n", namespace, "-o", "jsonpath={.metadata.uid}"])).trim();
  const metadata = {
    name: CPA,
    namespace,
    labels: { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE, [OWNED_BY_LABEL]: CPA },
    ownerReferences: [
      { apiVersion: API_VERSION, kind: KIND, name: CPA, uid, controller: true, blockOwnerDeletion: true },
    ],
  };
  const target = { kind: "Deployment", name: "hello-kubernetes", apiVersion: "apps/v1" };
  await ok(
    ["apply", "-f", "-"],
    yamlOf([
      { apiVersion: "v1", kind: "ServiceAccount", metadata },
      {
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "Role",
        metadata,
        rules: [
          everything([""], ["pods", "replicationcontrollers", "replicationcontrollers/scale"]),
          everything(["apps"], ["deployments", "deployments/scale", "replicasets", "replicasets/scale"]),
        ],
      },
      {
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "RoleBinding",
        metadata,
        subjects: [{ kind: "ServiceAccount", name: CPA, namespace }],
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: CPA },
      },
      {
        apiVersion: "v1",
        kind: "Pod",
        metadata,
        spec: {
          serviceAccountName: CPA,
          containers: [
            {
              name: CPA,
              image: "python-custom-autoscaler:latest",
              env: [
                { name: "scaleTargetRef", value: JSON.stringify(target) },
                { name: "namespace", value: namespace },
                { name: "interval", value: "10000" },
              ],
            },
          ],
        },
      },
    ]),
  );
  const uidOf = async (kind: string): Promise<string> =>
    (await ok(["get", kind, CPA, "-n", namespace, "-o", "jsonpath={.metadata.uid}"])).trim();
  return {
    namespace,
    uids: {
      cpa: uid,
      serviceaccount: await uidOf("serviceaccount"),
      role: await uidOf("role"),
      rolebinding: await uidOf("rolebinding"),
    },
  };
}

/** The CPA and its ServiceAccount, Role and RoleBinding are the very same objects, and its Pod is there. */
async function assertKept(cpa: Provisioned, when: string): Promise<void> {
  for (const [kind, uid] of Object.entries(cpa.uids)) {
    const res = await kubectl(["get", kind, CPA, "-n", cpa.namespace, "-o", "jsonpath={.metadata.uid}"]);
    assert.equal(res.code, 0, `${when}: the ${kind} of ${cpa.namespace}/${CPA} is gone: ${res.stderr}`);
    assert.equal(res.stdout.trim(), uid, `${when}: the ${kind} of ${cpa.namespace}/${CPA} was replaced`);
  }
  await core.readNamespacedPod({ name: CPA, namespace: cpa.namespace });
}

/** The new operator has taken the CPA over: its Pod rebuilt once, its Role narrowed, the rest kept. */
async function adopted(cpa: Provisioned): Promise<void> {
  await eventually(
    `the new operator to adopt ${cpa.namespace}/${CPA}`,
    async () => {
      const pod = await core.readNamespacedPod({ name: CPA, namespace: cpa.namespace });
      const role = await rbac.readNamespacedRole({ name: CPA, namespace: cpa.namespace });
      const narrowed = (role.rules ?? []).every((r) => !r.verbs.includes("*"));
      return pod.metadata?.annotations?.[POD_HASH_ANNOTATION] && narrowed ? true : undefined;
    },
    60_000,
  );
  await assertKept(cpa, "after the new operator adopted it");
}

before(async () => {
  // A cluster with no cpa at all: what earlier suites installed goes, CRD included.
  await ok(["delete", "-f", repoFile("config", "cluster.yaml"), "--ignore-not-found", "--wait=true"]);
  await eventually("the CRD to be gone", async () =>
    (await kubectl(["get", "crd", CRD, "--ignore-not-found", "-o", "name"])).stdout.trim() === ""
      ? true
      : undefined,
  );
});

after(async () => {
  // What the rollback put back, less the CRD, which later suites install over.
  await kubectl([
    "delete",
    "deployment,serviceaccount",
    "-n",
    "default",
    OLD,
    `${OLD}-cluster`,
    "--ignore-not-found",
  ]);
  await kubectl(["delete", "clusterrolebinding,clusterrole", OLD, "--ignore-not-found"]);
  await kubectl(["delete", "secret", "-n", "default", "-l", `owner=helm,name=${OLD}`, "--ignore-not-found"]);
});

describe("docs/migrating.md", () => {
  test("from a cluster-wide Helm install: back up, remove the old operator, install ours, roll back; no CPA or object is lost", async (t) => {
    const dir = mkdtempSync(join(tmpdir(), "cpa-migration-"));
    const original = join(dir, "original-cluster.yaml");
    writeFileSync(original, yamlOf(originalClusterInstall("default", true)));
    await ok(["apply", "-f", original]);
    await ok(["apply", "-f", "-"], yamlOf([helmReleaseSecret("default")]));
    await ok(["wait", "--for=condition=Established", `crd/${CRD}`]);
    const cpas = [await cpaAsTheOriginalLeftIt(t), await cpaAsTheOriginalLeftIt(t)];

    // The reader works from a folder of their own, and a checkout for our bundle.
    const [first] = cpas;
    assert.ok(first);
    const work = DocShell.of(t, { namespace: first.namespace, cwd: dir });
    const checkout = DocShell.of(t, { namespace: first.namespace });

    const found = await work.run(
      "kubectl get deployments -A --field-selector metadata.name=custom-pod-autoscaler-operator",
    );
    assert.match(found.stdout, /^default\s+custom-pod-autoscaler-operator\s/m);
    await work.run("kubectl get cpa -A -o yaml > cpa-backup.yaml");
    const backup = parse(readFileSync(join(dir, "cpa-backup.yaml"), "utf8")) as { items: unknown[] };
    assert.equal(backup.items.length, cpas.length);

    await work.run("kubectl delete secret -n default -l owner=helm,name=custom-pod-autoscaler-operator");
    await work.run("kubectl delete deployment custom-pod-autoscaler-operator -n default");
    await work.run("kubectl delete serviceaccount custom-pod-autoscaler-operator-cluster -n default");
    await work.run("kubectl delete clusterrolebinding custom-pod-autoscaler-operator");
    await work.run("kubectl delete clusterrole custom-pod-autoscaler-operator");
    const leftovers = await kubectl([
      "get",
      "secret,deployment,serviceaccount",
      "-n",
      "default",
      "-o",
      "name",
    ]);
    assert.doesNotMatch(leftovers.stdout, /custom-pod-autoscaler-operator|sh\.helm\.release/);
    // Between the steps: no operator, and everything still there.
    await ok(["get", "crd", CRD]);
    for (const cpa of cpas) await assertKept(cpa, "after removing the old operator");

    await checkout.run("kubectl apply -f config/cluster.yaml");
    // Its Deployment would get Pods on the fake node that run nothing: none, as the other suites leave it.
    await ok(["scale", "deployment/cpa-operator", "-n", "cpa-system", "--replicas=0"]);
    // The bundle's Deployment would run it; here it runs beside the fake node, as its ServiceAccount.
    const operator = await startOperator(cleanupOf(t));
    for (const cpa of cpas) await adopted(cpa);
    const listed = await work.run("kubectl get cpa -A");
    for (const cpa of cpas) assert.match(listed.stdout, new RegExp(`^${cpa.namespace}\\s+${CPA}\\s`, "m"));
    await work.run("kubectl get cpa");
    await operator.stop();

    // Rolling back: ours goes, the CRD and the CPAs stay, the original comes back.
    await checkout.run("kubectl delete -f config/cluster.yaml -l app.kubernetes.io/part-of=cpa");
    await checkout.run(
      "kubectl delete validatingadmissionpolicybinding,validatingadmissionpolicy cpa-requester-rights cpa-pod-deletion-cost",
    );
    await ok(["get", "crd", CRD]);
    for (const cpa of cpas) await assertKept(cpa, "after removing the new operator");
    // The release file is on GitHub; here, the laid-out one stands for it.
    await work.run(`kubectl apply -f ${ORIGINAL_URL}`, { substitute: { [ORIGINAL_URL]: original } });
    for (const cpa of cpas) await assertKept(cpa, "after applying the original's cluster.yaml again");
    await work.run("kubectl delete role NAME -n NAMESPACE", {
      substitute: { NAME: CPA, NAMESPACE: first.namespace },
    });

    // The backup brings back a CPA that was lost; for one still there, changed since, it reports a conflict.
    await ok(["delete", "cpa", CPA, "-n", first.namespace, "--wait=true"]);
    const restored = await work.run("kubectl apply -f cpa-backup.yaml", { code: 1 });
    assert.match(restored.stdout, new RegExp(`${CPA} created`));
    assert.match(restored.stderr, /Conflict/);
    await ok(["get", "cpa", CPA, "-n", first.namespace]);
  });

  test("from a namespaced install: its objects go by name, ours comes in, the CPA and its objects stay", async (t) => {
    await ok(["apply", "-f", repoFile("crds", `${GROUP}_${PLURAL}.yaml`)]);
    await ok(["wait", "--for=condition=Established", `crd/${CRD}`]);
    const cpa = await cpaAsTheOriginalLeftIt(t);
    await ok(["apply", "-f", "-"], yamlOf(originalNamespacedInstall(cpa.namespace)));
    const sh = DocShell.of(t, { namespace: cpa.namespace });
    const team = { "my-team": cpa.namespace };
    await sh.run(
      "kubectl delete deployment,serviceaccount,rolebinding,role custom-pod-autoscaler-operator -n my-team",
      { substitute: team },
    );
    const left = await operatorObjects(cpa.namespace);
    assert.doesNotMatch(left, new RegExp(OLD));
    await assertKept(cpa, "after removing the old operator");
    // Ours in a namespace of its own, bound into the team's (docs/migrating.md, step 3).
    const ops = `cpa-${cpa.namespace}`.slice(0, 63);
    t.after(async () => {
      await kubectl(["delete", "namespace", ops, "--wait=false"]);
    });
    const names = { ...team, "cpa-my-team": ops };
    for (const command of [
      "kubectl create namespace cpa-my-team",
      "kubectl apply -n cpa-my-team -f config/namespaced.yaml",
      "kubectl create rolebinding cpa-operator -n my-team --clusterrole=cpa-operator --serviceaccount=cpa-my-team:cpa-operator",
      "kubectl create clusterrolebinding cpa-my-team --clusterrole=cpa-operator-admission-policy --serviceaccount=cpa-my-team:cpa-operator",
      "kubectl set env -n cpa-my-team deployment/cpa-operator WATCH_NAMESPACE=my-team",
    ])
      await sh.run(command, { substitute: wordsIn(command, names) });
    await ok(["scale", "deployment/cpa-operator", "-n", ops, "--replicas=0"]);
    const operator = await startOperator(cleanupOf(t), [`--namespace=${cpa.namespace}`], ops);
    await adopted(cpa);
    await operator.stop();
    // Rolling back removes ours as carefully.
    await sh.run("kubectl delete -n cpa-my-team -f config/namespaced.yaml -l app.kubernetes.io/part-of=cpa", {
      substitute: { "cpa-my-team": ops },
    });
    await sh.run("kubectl delete rolebinding cpa-operator -n my-team", { substitute: team });
    await sh.run("kubectl delete clusterrolebinding cpa-my-team", { substitute: { "cpa-my-team": ops } });
    const ours = `${await operatorObjects(cpa.namespace)}\n${await operatorObjects(ops)}`;
    assert.doesNotMatch(ours, /cpa-operator/);
    await ok(["get", "crd", CRD]);
    await assertKept(cpa, "after removing the new operator");
  });

  test("the Role to bring with provisionRole: false is one the API server accepts", async (t) => {
    const namespace = await testNamespace(t);
    const page = readFileSync(repoFile("docs", "migrating.md"), "utf8");
    const block = /```yaml\n(apiVersion: rbac[\s\S]*?)```/.exec(page);
    assert.ok(block?.[1], "no Role in docs/migrating.md");
    const [role] = parseAllDocuments(block[1]).map((d) => d.toJS() as { kind: string });
    assert.equal(role?.kind, "Role");
    await ok(["apply", "--dry-run=server", "-n", namespace, "-f", "-"], block[1]);
  });
});

describe("docs/migrating.md: objects you bring yourself", () => {
  test("the original's owner reference on a ServiceAccount you bring, removed as the page says: it outlives kubectl delete cpa", async (t) => {
    await ok(["apply", "-f", repoFile("config", "cluster.yaml")]);
    await ok(["wait", "--for=condition=Established", `crd/${CRD}`]);
    await ok(["scale", "deployment/cpa-operator", "-n", "cpa-system", "--replicas=0"]);
    const namespace = await testNamespace(t);
    await ok(["apply", "-n", namespace, "-f", repoFile("examples", "getting-started", "deployment.yaml")]);
    // After the cutover: ours runs, and two CPAs run as ServiceAccounts their users brought, each
    // with the reference the original put on it (not a controller's: ours neither adopts nor changes it).
    const operator = await startOperator(cleanupOf(t), [`--namespace=${namespace}`]);
    for (const name of ["kept", "lost"]) {
      await ok(
        ["apply", "-n", namespace, "-f", "-"],
        yamlOf([
          {
            apiVersion: API_VERSION,
            kind: KIND,
            metadata: { name },
            spec: {
              provisionServiceAccount: false,
              template: { spec: { containers: [{ name, image: "python-custom-autoscaler:latest" }] } },
              scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: "hello-kubernetes" },
            },
          },
        ]),
      );
      const uid = (await ok(["get", "cpa", name, "-n", namespace, "-o", "jsonpath={.metadata.uid}"])).trim();
      await ok(
        ["apply", "-n", namespace, "-f", "-"],
        yamlOf([
          {
            apiVersion: "v1",
            kind: "ServiceAccount",
            metadata: { name, ownerReferences: [{ apiVersion: API_VERSION, kind: KIND, name, uid }] },
          },
        ]),
      );
    }
    await eventually("both CPAs' Pods, running as the ServiceAccounts brought", async () => {
      const pods = await core.listNamespacedPod({ namespace });
      const as = pods.items.map((p) => p.spec?.serviceAccountName).sort();
      return as.includes("kept") && as.includes("lost") ? true : undefined;
    });
    const sh = DocShell.of(t, { namespace });
    const listed = await sh.run(
      "kubectl get serviceaccount,role,rolebinding,pod -n default -o custom-columns=KIND:.kind,NAME:.metadata.name,OWNERS:.metadata.ownerReferences[*].name",
      { substitute: { default: namespace } },
    );
    assert.match(listed.stdout, /^ServiceAccount\s+kept\s+kept$/m);
    await sh.run(
      'kubectl patch serviceaccount my-autoscaler -n default --type=json -p \'[{"op":"remove","path":"/metadata/ownerReferences"}]\'',
      { substitute: { "my-autoscaler": "kept", default: namespace } },
    );
    await operator.stop();

    await ok(["delete", "cpa", "kept", "lost", "-n", namespace, "--wait=true"]);
    // Garbage collection takes the one that kept the original's reference, and leaves the other.
    await eventually("the ServiceAccount still referencing its CPA to be collected", async () =>
      (await kubectl(["get", "serviceaccount", "lost", "-n", namespace])).code !== 0 ? true : undefined,
    );
    await ok(["get", "serviceaccount", "kept", "-n", namespace]);
  });
});

describe("docs/migrating.md: a CPA whose target is a custom kind", () => {
  test("step 4's spec change is refused until the CRD is annotated as the page says; with the aggregated ClusterRole the operator runs it", async (t) => {
    await ok(["apply", "-f", repoFile("config", "cluster.yaml")]);
    await ok(["wait", "--for=condition=Established", `crd/${CRD}`]);
    await ok(["scale", "deployment/cpa-operator", "-n", "cpa-system", "--replicas=0"]);
    const widgets = {
      apiVersion: "apiextensions.k8s.io/v1",
      kind: "CustomResourceDefinition",
      metadata: { name: "widgets.example.com" },
      spec: {
        group: "example.com",
        names: { kind: "Widget", plural: "widgets", singular: "widget", listKind: "WidgetList" },
        scope: "Namespaced",
        versions: [
          {
            name: "v1",
            served: true,
            storage: true,
            schema: { openAPIV3Schema: { type: "object", "x-kubernetes-preserve-unknown-fields": true } },
            subresources: {
              scale: { specReplicasPath: ".spec.replicas", statusReplicasPath: ".status.replicas" },
            },
          },
        ],
      },
    };
    await ok(["apply", "-f", "-"], yamlOf([widgets]));
    await ok(["wait", "--for=condition=Established", "crd/widgets.example.com"]);
    // Step 1 of the page's order: the aggregated ClusterRole, exactly as docs/operator.md has it.
    const operatorPage = readFileSync(repoFile("docs", "operator.md"), "utf8");
    const grant = /```yaml\n(apiVersion: rbac[\s\S]*?name: cpa-operator-widgets[\s\S]*?)```/.exec(
      operatorPage,
    )?.[1];
    assert.ok(grant, "no cpa-operator-widgets ClusterRole in docs/operator.md");
    await ok(["apply", "-f", "-"], grant);
    const mapping = `targets.custompodautoscaler.com/Widget.example.com`;
    t.after(async () => {
      await kubectl(["delete", "clusterrole", "cpa-operator-widgets", "--ignore-not-found"]);
      await kubectl(["annotate", "crd", CRD, `${mapping}-`]);
      await kubectl(["delete", "crd", "widgets.example.com", "--ignore-not-found", "--wait=false"]);
    });

    // A CPA as the original left it: all three provision flags false, its objects the user's.
    const namespace = await testNamespace(t);
    await ok(
      ["apply", "-n", namespace, "-f", "-"],
      yamlOf([
        { apiVersion: "example.com/v1", kind: "Widget", metadata: { name: "gizmo" }, spec: { replicas: 1 } },
      ]),
    );
    await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: "widget-scaler" } } });
    const cpa = (image: string): string =>
      yamlOf([
        {
          apiVersion: API_VERSION,
          kind: KIND,
          metadata: { name: "widget-scaler" },
          spec: {
            provisionServiceAccount: false,
            provisionRole: false,
            provisionRoleBinding: false,
            template: { spec: { containers: [{ name: "widget-scaler", image }] } },
            scaleTargetRef: { apiVersion: "example.com/v1", kind: "Widget", name: "gizmo" },
          },
        },
      ]);
    // It was there before the cutover (made here with the mapping, which our CRD then does not carry).
    await ok(["annotate", "crd", CRD, `${mapping}=widgets`]);
    await eventually("the policy to read the mapping", async () =>
      (await kubectl(["apply", "-n", namespace, "-f", "-"], cpa("widget-scaler:original"))).code === 0
        ? true
        : undefined,
    );
    await ok(["annotate", "crd", CRD, `${mapping}-`]);

    // Step 4 without the annotation: refused, naming it.
    const refused = await eventually("the policy to forget the mapping", async () => {
      const res = await kubectl(["apply", "-n", namespace, "-f", "-"], cpa("widget-scaler:rebuilt"));
      return res.code !== 0 ? res : undefined;
    });
    assert.match(refused.stderr, /targets\.custompodautoscaler\.com\/Widget\.example\.com=<plural resource>/);
    // The page's annotation, then step 4 goes through.
    const sh = DocShell.of(t, { namespace });
    await sh.run(
      "kubectl annotate crd custompodautoscalers.custompodautoscaler.com targets.custompodautoscaler.com/Widget.example.com=widgets",
    );
    await eventually("step 4 to be admitted", async () =>
      (await kubectl(["apply", "-n", namespace, "-f", "-"], cpa("widget-scaler:rebuilt"))).code === 0
        ? true
        : undefined,
    );
    // The aggregated grant lets the operator read the Widget and run the autoscaler Pod as the user's ServiceAccount.
    const operator = await startOperator(cleanupOf(t), [`--namespace=${namespace}`]);
    const pod = await eventually("the autoscaler Pod", async () =>
      core.readNamespacedPod({ name: "widget-scaler", namespace }).catch(() => undefined),
    );
    assert.equal(pod.spec?.containers[0]?.image, "widget-scaler:rebuilt");
    assert.equal(pod.spec.serviceAccountName, "widget-scaler");
    await operator.stop();
  });
});
