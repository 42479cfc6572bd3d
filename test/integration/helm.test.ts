// The Helm chart (charts/cpa) with the real helm, built from the Go module
// proxy like the control plane: linted and rendered in both modes (the
// rendering is the bundles' objects), installed over a bundle install whose
// CPA keeps working, upgraded with changed values, uninstalled keeping every
// CPA; then the namespaced mode, and the uninstall that removes everything.
// The install, upgrade and uninstall commands are docs/operator.md's, run as
// written.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test, type TestContext } from "node:test";
import { parseAllDocuments, stringify } from "yaml";
import { prepareOriginal } from "../../hack/bench/original.ts";
import { POD_HASH_ANNOTATION } from "../../src/api/names.ts";
import { clusterBundle, namespacedBundle } from "../../hack/bundles.ts";
import { Journey } from "../../hack/journey.ts";
import { ContainerRunner } from "../../hack/local-pods/container-runner.ts";
import { LocalKubelet } from "../../hack/local-pods/kubelet.ts";
import { ensureHelm } from "../../hack/plane/build.ts";
import { KUBERNETES_VERSION } from "../../hack/plane/config.ts";
import { DocShell } from "../support/doc-shell.ts";
import { ensureImages } from "../support/images.ts";
import { adminConfig, eventually, kubeconfigPath, kubectl, testNamespace } from "../support/kube.ts";
import { repoFile } from "../support/processes.ts";

const admin = adminConfig();
const images = new ContainerRunner();
const kubelet = new LocalKubelet({ admin, images });
const journey = new Journey({ kubectl: ok, admin, kubelet, timeoutMs: 90_000 });
const IMAGE = "helm-fixture:test";
const CRD = "custompodautoscalers.custompodautoscaler.com";
const CHART = repoFile("charts", "cpa");
let helmBin = "";
/** Helm's own folders, away from the user's. */
let helmEnv: Record<string, string> = {};

async function ok(args: string[], input?: string): Promise<string> {
  const res = await kubectl(args, input);
  assert.equal(res.code, 0, `kubectl ${args.join(" ")}: ${res.stderr}`);
  return res.stdout;
}

function helm(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      helmBin,
      args,
      { env: { ...process.env, ...helmEnv, KUBECONFIG: kubeconfigPath() }, maxBuffer: 64 << 20 },
      (err, stdout, stderr) => {
        resolve({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, stdout, stderr });
      },
    );
  });
}

async function helmOk(args: string[]): Promise<string> {
  const res = await helm(args);
  assert.equal(res.code, 0, `helm ${args.join(" ")}: ${res.stderr}`);
  return res.stdout;
}

before(async () => {
  helmBin = ensureHelm((line) => process.stderr.write(`[helm] ${line}\n`));
  const home = mkdtempSync(join(tmpdir(), "cpa-helm-"));
  helmEnv = {
    HELM_CACHE_HOME: join(home, "cache"),
    HELM_CONFIG_HOME: join(home, "config"),
    HELM_DATA_HOME: join(home, "data"),
  };
  await ensureImages();
  await images.build(IMAGE, repoFile("examples", "getting-started"));
  await kubelet.start();
});
after(async () => {
  await kubelet.stop();
  // As the suite had it before: the cluster bundle installed.
  await kubectl(["apply", "-f", repoFile("config", "cluster.yaml")]);
});

type Obj = {
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  subjects?: { namespace?: string }[];
} & Record<string, unknown>;

const HELM_LABELS = [
  "app.kubernetes.io/instance",
  "app.kubernetes.io/managed-by",
  "app.kubernetes.io/version",
  "helm.sh/chart",
];

/** An object with what Helm adds (its labels, the keep annotation) and namespaces taken out, to compare with the bundles'. */
function normalise(o: Obj): Obj {
  const c = structuredClone(o);
  for (const l of HELM_LABELS) delete c.metadata.labels?.[l];
  if (c.metadata.labels && Object.keys(c.metadata.labels).length === 0) delete c.metadata.labels;
  delete c.metadata.annotations?.["helm.sh/resource-policy"];
  if (!c.metadata.annotations || Object.keys(c.metadata.annotations).length === 0)
    delete c.metadata.annotations;
  delete c.metadata.namespace;
  for (const s of c.subjects ?? []) delete s.namespace;
  return c;
}

const key = (o: Obj): string => `${o.kind}/${o.metadata.name}`;
const byKey = (objects: Obj[]): Map<string, Obj> => new Map(objects.map((o) => [key(o), normalise(o)]));

async function rendered(args: string[]): Promise<Obj[]> {
  const out = await helmOk(["template", "cpa", CHART, "--kube-version", KUBERNETES_VERSION, ...args]);
  return parseAllDocuments(out)
    .map((d) => d.toJS() as Obj | null)
    .filter((o): o is Obj => o !== null);
}

function watchNamespace(objects: Obj[]): string | undefined {
  const d = objects.find((o) => o.kind === "Deployment") as
    | { spec: { template: { spec: { containers: { env: { name: string; value?: string }[] }[] } } } }
    | undefined;
  return d?.spec.template.spec.containers[0]?.env.find((e) => e.name === "WATCH_NAMESPACE")?.value;
}

const cpa = (name: string, target: string): object => ({
  apiVersion: "custompodautoscaler.com/v1",
  kind: "CustomPodAutoscaler",
  metadata: { name },
  spec: {
    template: { spec: { containers: [{ name, image: IMAGE, imagePullPolicy: "IfNotPresent" }] } },
    scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: target },
    config: [{ name: "interval", value: "1000" }],
  },
});

const target = (name: string, numPods: string): object => ({
  apiVersion: "apps/v1",
  kind: "Deployment",
  metadata: { name, labels: { numPods } },
  spec: {
    replicas: 1,
    selector: { matchLabels: { app: name } },
    template: {
      metadata: { labels: { app: name } },
      spec: { containers: [{ name: "web", image: "registry.k8s.io/pause:3.10" }] },
    },
  },
});

const uidOf = async (namespace: string, name: string): Promise<string> =>
  (await ok(["get", "cpa", name, "-n", namespace, "-o", "jsonpath={.metadata.uid}"])).trim();

async function reach(namespace: string, name: string, want: number): Promise<void> {
  await journey.reachReplicas(namespace, name, want, { scaler: `${name}-scaler` });
}

async function rolledOut(namespace: string): Promise<void> {
  await ok(["rollout", "status", "deployment/cpa-operator", "-n", namespace, "--timeout=120s"]);
  await journey.operatorReady(namespace);
}

async function gone(args: string[]): Promise<void> {
  await eventually(
    `${args.join(" ")} to be gone`,
    async () => {
      const res = await kubectl(["get", ...args, "--ignore-not-found", "-o", "name"]);
      return res.code === 0 && res.stdout.trim() === "" ? true : undefined;
    },
    120_000,
    500,
  );
}

const shell = (t: TestContext, namespace: string): DocShell => DocShell.of(t, { namespace, env: helmEnv });

describe("the Helm chart", () => {
  test("helm lint passes in both modes; values the chart cannot work with are refused, saying why", async () => {
    await helmOk(["lint", CHART]);
    await helmOk(["lint", CHART, "--set", "mode=namespaced", "--set", "watchNamespaces={team-a}"]);
    const refusals: [string[], RegExp][] = [
      [["--set", "mode=namespaced"], /mode namespaced needs watchNamespaces/],
      [["--set", "mode=clusterwide"], /value must be one of 'cluster', 'namespaced'/],
      [["--set", "replicaCount=3"], /additional properties 'replicaCount' not allowed/],
      [["--set", "leaderElection.enabled=false"], /replicas above 1 need leaderElection\.enabled/],
      [
        ["-n", "team-a", "--set", "mode=namespaced", "--set", "watchNamespaces={team-a}"],
        /must not list the release's namespace team-a/,
      ],
    ];
    for (const [args, message] of refusals) {
      const res = await helm(["template", "cpa", CHART, "--kube-version", KUBERNETES_VERSION, ...args]);
      assert.notEqual(res.code, 0, `helm template ${args.join(" ")} was accepted`);
      assert.match(res.stderr, message);
    }
  });

  test("helm template renders the bundles' own objects, Helm's labels beside ours", async () => {
    const cluster = byKey(await rendered(["-n", "cpa-system"]));
    const bundle = byKey((clusterBundle() as Obj[]).filter((o) => o.kind !== "Namespace"));
    assert.deepEqual([...cluster.keys()].sort(), [...bundle.keys()].sort());
    for (const [k, o] of bundle) assert.deepEqual(cluster.get(k), o, k);

    const all = await rendered([
      "-n",
      "cpa-ops",
      "--set",
      "mode=namespaced",
      "--set",
      "watchNamespaces={team-a,team-b}",
    ]);
    assert.equal(watchNamespace(all), "team-a,team-b");
    const tenants = all.filter((o) => o.kind === "RoleBinding" && o.metadata.name === "cpa-operator");
    assert.deepEqual(
      tenants.map((o) => o.metadata.namespace),
      ["team-a", "team-b"],
    );
    assert.ok(
      tenants.every((o) => o.subjects?.[0]?.namespace === "cpa-ops"),
      "bound to the release's ServiceAccount",
    );
    // Cluster-wide, the namespaced mode may only read the admission policy.
    const clusterBindings = all.filter((o) => o.kind === "ClusterRoleBinding");
    assert.deepEqual(
      clusterBindings.map((o) => o.metadata.name),
      ["cpa-operator-admission-policy"],
    );
    assert.equal(clusterBindings[0]?.subjects?.[0]?.namespace, "cpa-ops");
    const ours = byKey(all.filter((o) => !tenants.includes(o) && !clusterBindings.includes(o)));
    const namespaced = byKey(namespacedBundle() as Obj[]);
    assert.deepEqual([...ours.keys()].sort(), [...namespaced.keys()].sort());
    for (const [k, o] of namespaced) {
      if (o.kind === "Deployment") continue; // WATCH_NAMESPACE, checked above
      assert.deepEqual(ours.get(k), o, k);
    }
  });

  test("installed over a bundle install, its CPA keeps working; upgrade changes what values say; uninstall keeps every CPA", async (t) => {
    await journey.installOperator(["-f", repoFile("config", "cluster.yaml")], "cpa-system");
    const namespace = await testNamespace(t);
    await ok(
      ["apply", "-n", namespace, "-f", "-"],
      `${stringify(target("web", "3"))}---\n${stringify(cpa("web-scaler", "web"))}`,
    );
    await journey.cpaReady(namespace, "web-scaler");
    await reach(namespace, "web", 3);
    const uid = await uidOf(namespace, "web-scaler");

    // docs/operator.md: the bundle uninstalled keeping its CPAs, the CRD adopted by the release.
    const sh = shell(t, namespace);
    await sh.run("kubectl delete -f config/cluster.yaml -l app.kubernetes.io/part-of=cpa");
    await sh.run(
      "kubectl delete validatingadmissionpolicybinding,validatingadmissionpolicy cpa-requester-rights cpa-pod-deletion-cost",
    );
    await gone(["namespace", "cpa-system"]);
    await sh.run(
      `kubectl annotate crd ${CRD} meta.helm.sh/release-name=cpa meta.helm.sh/release-namespace=cpa-system --overwrite`,
    );
    await sh.run(`kubectl label crd ${CRD} app.kubernetes.io/managed-by=Helm --overwrite`);
    await sh.run("helm install cpa charts/cpa -n cpa-system --create-namespace");
    await sh.run("kubectl label namespace cpa-system pod-security.kubernetes.io/enforce=restricted");
    await rolledOut("cpa-system");
    assert.equal(await uidOf(namespace, "web-scaler"), uid, "the CPA is the one from before the release");
    await ok(["label", "-n", namespace, "deployment/web", "numPods=5", "--overwrite"]);
    await reach(namespace, "web", 5);

    await sh.run("helm upgrade cpa charts/cpa -n cpa-system --reuse-values --set replicas=3");
    await helmOk([
      "upgrade",
      "cpa",
      CHART,
      "-n",
      "cpa-system",
      "--reuse-values",
      "--set",
      "extraArgs={--resync=5m}",
    ]);
    await rolledOut("cpa-system");
    const deployment = JSON.parse(
      await ok(["get", "deployment", "cpa-operator", "-n", "cpa-system", "-o", "json"]),
    ) as {
      spec: { replicas: number; template: { spec: { containers: { args: string[] }[] } } };
    };
    assert.equal(deployment.spec.replicas, 3, "--reuse-values kept replicas=3");
    assert.deepEqual(deployment.spec.template.spec.containers[0]?.args, [
      "operator",
      "--leader-elect",
      "--http-address=:8080",
      "--resync=5m",
    ]);
    // The upgraded operator provisions a new CPA.
    await ok(
      ["apply", "-n", namespace, "-f", "-"],
      `${stringify(target("other", "2"))}---\n${stringify(cpa("other-scaler", "other"))}`,
    );
    await journey.cpaReady(namespace, "other-scaler");
    await reach(namespace, "other", 2);

    await sh.run("helm uninstall cpa -n cpa-system");
    await gone(["deployment", "cpa-operator", "-n", "cpa-system"]);
    await gone(["clusterrole", "cpa-operator"]);
    assert.equal(await uidOf(namespace, "web-scaler"), uid, "the CPA survives helm uninstall");
    assert.ok(await uidOf(namespace, "other-scaler"));
    assert.match(
      await ok(["get", "crd", CRD, "-o", "jsonpath={.metadata.annotations}"]),
      /meta\.helm\.sh\/release-name/,
    );
  });

  test("the namespaced mode manages the listed namespace from its own; removing everything deletes the CPAs, then the CRD", async (t) => {
    const team = await testNamespace(t);
    const ops = `${team.slice(0, 50)}-ops`;
    t.after(async () => {
      await kubectl(["delete", "namespace", ops, "--ignore-not-found", "--wait=false"]);
    });
    const sh = shell(t, team);
    const words = { "cpa-my-team": ops, "my-team": team };
    // The release before this one (cpa in cpa-system) left the CRD annotated as its own: re-annotate it.
    await sh.run(
      `kubectl annotate crd ${CRD} meta.helm.sh/release-name=cpa meta.helm.sh/release-namespace=cpa-system --overwrite`,
      {
        substitute: { "cpa-system": ops },
      },
    );
    await sh.run(
      "helm install cpa charts/cpa -n cpa-my-team --create-namespace --set mode=namespaced --set 'watchNamespaces={my-team}'",
      { substitute: words },
    );
    await rolledOut(ops);
    assert.equal(
      (
        await ok([
          "get",
          "rolebinding",
          "cpa-operator",
          "-n",
          team,
          "-o",
          "jsonpath={.subjects[0].namespace}",
        ])
      ).trim(),
      ops,
    );
    await ok(
      ["apply", "-n", team, "-f", "-"],
      `${stringify(target("web", "2"))}---\n${stringify(cpa("web-scaler", "web"))}`,
    );
    await journey.cpaReady(team, "web-scaler");
    await reach(team, "web", 2);

    await sh.run("kubectl delete cpa --all --all-namespaces");
    await gone(["pod", "web-scaler", "-n", team]);
    await sh.run("helm uninstall cpa -n cpa-system", { substitute: { "cpa-system": ops } });
    await sh.run(`kubectl delete crd ${CRD}`);
    await gone(["crd", CRD]);
    await gone(["rolebinding", "cpa-operator", "-n", team]);
  });

  // The original operator's chart at v1.4.2 as its release workflow packages it, its
  // operator built from the same source (its FROM replaced, as the compatibility
  // check does), then docs/migrating.md's steps for a Helm install, run as written.
  const originalSource = process.env["CPA_ORIGINAL_OPERATOR"];
  test(
    "from the original's own Helm chart: installed with a CPA it provisioned, then docs/migrating.md's steps to ours keep the CPA and its objects",
    {
      skip: originalSource
        ? false
        : "CPA_ORIGINAL_OPERATOR is not set: point it at a checkout of jthomperoo/custom-pod-autoscaler-operator (git archive v1.4.2) to run the migration from its chart",
    },
    async (t) => {
      assert.ok(originalSource);
      const built = await prepareOriginal("operator", process.env, (line) =>
        process.stderr.write(`${line}\n`),
      );
      if (typeof built === "string") assert.fail(built);
      const dir = mkdtempSync(join(tmpdir(), "cpa-original-chart-"));
      // The image its chart names (custompodautoscaler/operator:VERSION): the binary on an empty base.
      cpSync(built.binary, join(dir, "operator"));
      writeFileSync(
        join(dir, "Dockerfile"),
        'FROM scratch\nCOPY operator /operator\nUSER 65532:65532\nENTRYPOINT ["/operator"]\n',
      );
      await images.build(`docker.io/custompodautoscaler/operator:${built.version}`, dir);
      // Its release workflow: the version written into Chart.yaml, then helm package.
      cpSync(join(originalSource, "helm"), join(dir, "helm"), { recursive: true });
      const chartFile = join(dir, "helm", "Chart.yaml");
      writeFileSync(
        chartFile,
        readFileSync(chartFile, "utf8").replace(/^version: 0\.0\.0$/m, `version: ${built.version}`),
      );
      await helmOk(["package", join(dir, "helm"), "-d", dir]);
      const OLD = "custom-pod-autoscaler-operator";
      t.after(async () => {
        await helm(["uninstall", OLD, "-n", "default"]);
        await kubectl([
          "delete",
          "deployment,serviceaccount",
          OLD,
          `${OLD}-cluster`,
          "-n",
          "default",
          "--ignore-not-found",
        ]);
        await kubectl(["delete", "clusterrolebinding,clusterrole", OLD, "--ignore-not-found"]);
      });
      await helmOk(["install", OLD, join(dir, `${OLD}-${built.version}.tgz`), "-n", "default"]);
      await ok(["rollout", "status", `deployment/${OLD}`, "-n", "default", "--timeout=120s"]);

      const namespace = await testNamespace(t);
      await ok(
        ["apply", "-n", namespace, "-f", "-"],
        `${stringify(target("web", "3"))}---\n${stringify(cpa("web-scaler", "web"))}`,
      );
      const kinds = ["serviceaccount", "role", "rolebinding"] as const;
      const uids = async (): Promise<Record<string, string>> => {
        const out: Record<string, string> = { cpa: await uidOf(namespace, "web-scaler") };
        for (const kind of kinds) {
          const res = await kubectl([
            "get",
            kind,
            "web-scaler",
            "-n",
            namespace,
            "-o",
            "jsonpath={.metadata.uid}",
          ]);
          out[kind] = res.code === 0 ? res.stdout.trim() : "";
        }
        return out;
      };
      // The original provisions the CPA, and its autoscaler (our runtime) scales under the original's Role.
      await eventually(
        "the original operator to provision web-scaler",
        async () => (Object.values(await uids()).every((u) => u !== "") ? true : undefined),
        120_000,
      );
      await eventually(
        "web to reach 3 replicas under the original operator",
        async () =>
          (
            await ok(["get", "deployment", "web", "-n", namespace, "-o", "jsonpath={.spec.replicas}"])
          ).trim() === "3"
            ? true
            : undefined,
        120_000,
      );
      const before = await uids();
      const originalPod = (
        await ok(["get", "pod", "web-scaler", "-n", namespace, "-o", "jsonpath={.metadata.uid}"])
      ).trim();

      const work = DocShell.of(t, { namespace, cwd: dir, env: helmEnv });
      const sh = shell(t, namespace);
      await work.run("kubectl get cpa -A -o yaml > cpa-backup.yaml");
      await work.run("kubectl delete secret -n default -l owner=helm,name=custom-pod-autoscaler-operator");
      const listed = await work.run("helm list -n default");
      assert.doesNotMatch(listed.stdout, /custom-pod-autoscaler-operator/, "Helm forgot the release");
      await work.run("kubectl delete deployment custom-pod-autoscaler-operator -n default");
      await work.run("kubectl delete serviceaccount custom-pod-autoscaler-operator-cluster -n default");
      await work.run("kubectl delete clusterrolebinding custom-pod-autoscaler-operator");
      await work.run("kubectl delete clusterrole custom-pod-autoscaler-operator");
      assert.deepEqual(
        await uids(),
        before,
        "removing the original operator kept the CRD, the CPA and its objects",
      );

      // The CRD is the original release's: given to ours, then ours installed.
      assert.match(
        await ok(["get", "crd", CRD, "-o", "jsonpath={.metadata.annotations}"]),
        /"meta\.helm\.sh\/release-name":"custom-pod-autoscaler-operator"/,
      );
      await sh.run(
        `kubectl annotate crd ${CRD} meta.helm.sh/release-name=cpa meta.helm.sh/release-namespace=cpa-system --overwrite`,
      );
      await sh.run(`kubectl label crd ${CRD} app.kubernetes.io/managed-by=Helm --overwrite`);
      await sh.run("helm install cpa charts/cpa -n cpa-system --create-namespace");
      await sh.run("kubectl label namespace cpa-system pod-security.kubernetes.io/enforce=restricted");
      t.after(async () => {
        await helm(["uninstall", "cpa", "-n", "cpa-system"]);
        await kubectl(["delete", "cpa", "--all", "-n", namespace, "--wait=true"]);
        await kubectl(["delete", "crd", CRD, "--ignore-not-found"]);
      });
      await rolledOut("cpa-system");

      // Ours adopts what the original made: the same objects, the Role narrowed, the Pod rebuilt once.
      await journey.cpaReady(namespace, "web-scaler");
      assert.deepEqual(
        await uids(),
        before,
        "the CPA, its ServiceAccount, Role and RoleBinding are the same objects",
      );
      const role = JSON.parse(await ok(["get", "role", "web-scaler", "-n", namespace, "-o", "json"])) as {
        rules: { verbs: string[] }[];
      };
      assert.ok(
        role.rules.every((r) => !r.verbs.includes("*")),
        "the original's every-verb Role is narrowed",
      );
      const pod = JSON.parse(await ok(["get", "pod", "web-scaler", "-n", namespace, "-o", "json"])) as {
        metadata: { uid: string; annotations?: Record<string, string> };
      };
      assert.notEqual(pod.metadata.uid, originalPod, "the autoscaler Pod is one ours built");
      assert.ok(pod.metadata.annotations?.[POD_HASH_ANNOTATION]);
      await ok(["label", "-n", namespace, "deployment/web", "numPods=5", "--overwrite"]);
      await reach(namespace, "web", 5);
    },
  );
});
