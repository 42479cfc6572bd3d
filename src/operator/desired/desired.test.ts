import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { POD_HASH_ANNOTATION, SHADOW_ANNOTATION } from "../../api/names.ts";
import { cpaFixture, DEPLOYMENTS } from "./fixtures.ts";
import { ownedByValue } from "./meta.ts";
import {
  desiredPod,
  podName,
  podServiceAccountName,
  scaleTargetRefJson,
  type SecurityContext,
  SAFE_TO_EVICT_ANNOTATION,
  withSecurityDefaults,
} from "./pod.ts";
import { desiredRole } from "./role.ts";
import { desiredRoleBinding } from "./role-binding.ts";
import { desiredServiceAccount } from "./service-account.ts";

const deployments = DEPLOYMENTS;

describe("owned objects", () => {
  test("every object carries the original's labels and a controller reference to the CPA", () => {
    const cpa = cpaFixture();
    for (const obj of [
      desiredServiceAccount(cpa),
      desiredRole(cpa, deployments),
      desiredRoleBinding(cpa, cpa.metadata.name),
      desiredPod(cpa, cpa.metadata.name),
    ]) {
      assert.deepEqual(
        obj.metadata?.labels?.["app.kubernetes.io/managed-by"],
        "custom-pod-autoscaler-operator",
      );
      assert.equal(obj.metadata.labels["v1.custompodautoscaler.com/owned-by"], "python-custom-autoscaler");
      assert.deepEqual(obj.metadata.ownerReferences, [
        {
          apiVersion: "custompodautoscaler.com/v1",
          kind: "CustomPodAutoscaler",
          name: "python-custom-autoscaler",
          uid: "1111-2222",
          controller: true,
          blockOwnerDeletion: true,
        },
      ]);
      assert.equal(obj.metadata.namespace, "team-a");
    }
  });

  test("names longer than a label value allows are shortened with a hash, staying unique", () => {
    const long = "a".repeat(70);
    const value = ownedByValue(long);
    assert.ok(value.length <= 63);
    assert.notEqual(value, ownedByValue(`${"a".repeat(69)}b`));
    assert.equal(ownedByValue("short"), "short");
  });

  test("the RoleBinding binds the CPA's Role to the ServiceAccount the Pod runs as", () => {
    const rb = desiredRoleBinding(cpaFixture(), "python-custom-autoscaler");
    assert.deepEqual(rb.roleRef, {
      apiGroup: "rbac.authorization.k8s.io",
      kind: "Role",
      name: "python-custom-autoscaler",
    });
    assert.deepEqual(rb.subjects, [
      { kind: "ServiceAccount", name: "python-custom-autoscaler", namespace: "team-a" },
    ]);
  });
});

describe("the Role", () => {
  const cases = [
    {
      name: "grants only the target by name, its /scale, pods, its own CPA and events",
      spec: {},
      extra: [] as string[],
    },
    {
      name: "adds the metrics APIs with roleRequiresMetricsServer",
      spec: { roleRequiresMetricsServer: true },
      extra: ["metrics.k8s.io", "custom.metrics.k8s.io"],
    },
    {
      name: "adds Argo Rollouts with roleRequiresArgoRollouts",
      spec: { roleRequiresArgoRollouts: true },
      extra: ["argoproj.io"],
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const rules = desiredRole(cpaFixture(c.spec), deployments).rules ?? [];
      assert.deepEqual(rules.slice(0, 2), [
        {
          apiGroups: ["apps"],
          resources: ["deployments"],
          resourceNames: ["hello-kubernetes"],
          verbs: ["get"],
        },
        {
          apiGroups: ["apps"],
          resources: ["deployments/scale"],
          resourceNames: ["hello-kubernetes"],
          verbs: ["get", "update", "patch"],
        },
      ]);
      const groups = new Set(rules.flatMap((r) => r.apiGroups ?? []));
      for (const g of c.extra) assert.ok(groups.has(g), `missing ${g}`);
      if (c.extra.length === 0)
        assert.deepEqual([...groups].sort(), ["", "apps", "custompodautoscaler.com", "events.k8s.io"]);
      assert.ok(
        rules.every((r) => !r.verbs.includes("*")),
        "no wildcard verbs",
      );
    });
  }

  test("adds patch on pods with roleRequiresPodDeletionCost, and not for a shadow, which never scales", () => {
    const podRule = (annotations?: Record<string, string>) => {
      const cpa = cpaFixture({ roleRequiresPodDeletionCost: true });
      if (annotations) cpa.metadata.annotations = annotations;
      return desiredRole(cpa, deployments).rules?.find((r) => r.resources?.includes("pods"));
    };
    assert.deepEqual(podRule()?.verbs, ["get", "list", "patch"]);
    assert.deepEqual(podRule({ [SHADOW_ANNOTATION]: "true" })?.verbs, ["get", "list"]);
    const plain = desiredRole(cpaFixture(), deployments).rules?.find((r) => r.resources?.includes("pods"));
    assert.deepEqual(plain?.verbs, ["get", "list"]);
  });

  test("leaves the target rules out while the target's kind cannot be resolved", () => {
    const rules = desiredRole(cpaFixture(), undefined).rules ?? [];
    assert.ok(!rules.some((r) => r.apiGroups?.includes("apps")));
    assert.ok(rules.some((r) => r.resources?.includes("pods")));
  });
});

describe("the autoscaler Pod", () => {
  test("gets, after each container's own env, scaleTargetRef as the original's JSON, namespace, config in order, then CPA_NAME", () => {
    const cpa = cpaFixture({
      template: {
        spec: {
          containers: [
            { name: "a", image: "img", env: [{ name: "MINE", value: "1" }] },
            { name: "b", image: "img" },
          ],
        },
      },
      config: [
        { name: "interval", value: "10000" },
        { name: "evaluate", value: '{"type":"shell"}' },
      ],
    });
    const pod = desiredPod(cpa, cpa.metadata.name);
    const envOf = (i: number) => pod.spec?.containers[i]?.env?.map((e) => [e.name, e.value]);
    const operatorVars = [
      ["scaleTargetRef", '{"kind":"Deployment","name":"hello-kubernetes","apiVersion":"apps/v1"}'],
      ["namespace", "team-a"],
      ["interval", "10000"],
      ["evaluate", '{"type":"shell"}'],
      ["CPA_NAME", "python-custom-autoscaler"],
    ];
    assert.deepEqual(envOf(0), [["MINE", "1"], ...operatorVars]);
    assert.deepEqual(envOf(1), operatorVars);
  });

  test("scaleTargetRef leaves apiVersion out when it is empty", () => {
    assert.equal(scaleTargetRefJson({ kind: "Deployment", name: "x" }), '{"kind":"Deployment","name":"x"}');
  });

  test("runs as the ServiceAccount it is given", () => {
    assert.equal(desiredPod(cpaFixture(), "workload-identity").spec?.serviceAccountName, "workload-identity");
  });
  const saCases = [
    {
      name: "the provisioned one, whatever the template says",
      provision: true,
      template: "someone-else",
      want: "python-custom-autoscaler",
    },
    {
      name: "the template's when the user brings it",
      provision: false,
      template: "workload-identity",
      want: "workload-identity",
    },
    {
      name: "the CPA's name when the user brings it and the template names none, as the original",
      provision: false,
      template: undefined,
      want: "python-custom-autoscaler",
    },
  ];
  for (const c of saCases) {
    test(`its ServiceAccount is ${c.name}`, () => {
      const cpa = cpaFixture();
      if (c.template) cpa.spec.template.spec.serviceAccountName = c.template;
      assert.equal(podServiceAccountName(cpa, c.provision), c.want);
    });
  }

  test("takes its name from template.metadata.name, else the CPA's, and merges labels with the operator's winning", () => {
    const plain = cpaFixture();
    assert.equal(podName(plain), "python-custom-autoscaler");
    const named = cpaFixture({
      template: {
        metadata: {
          name: "custom-pod",
          labels: { team: "a", "app.kubernetes.io/managed-by": "me" },
          annotations: { note: "kept" },
        },
        spec: { containers: [{ name: "c", image: "i" }] },
      },
    });
    const pod = desiredPod(named, named.metadata.name);
    assert.equal(pod.metadata?.name, "custom-pod");
    assert.equal(pod.metadata.labels?.["team"], "a");
    assert.equal(pod.metadata.labels["app.kubernetes.io/managed-by"], "custom-pod-autoscaler-operator");
    assert.equal(pod.metadata.annotations?.["note"], "kept");
  });

  const hashOf = (cpa: ReturnType<typeof cpaFixture>) =>
    desiredPod(cpa, cpa.metadata.name).metadata?.annotations?.[POD_HASH_ANNOTATION];
  const hashCases = [
    { name: "a config value", spec: { config: [{ name: "interval", value: "5000" }] }, changes: true },
    {
      name: "the image",
      spec: { template: { spec: { containers: [{ name: "python-custom-autoscaler", image: "other:1" }] } } },
      changes: true,
    },
    { name: "the target", spec: { scaleTargetRef: { kind: "StatefulSet", name: "db" } }, changes: true },
    {
      name: "nothing that builds the Pod (roleRequiresMetricsServer)",
      spec: { roleRequiresMetricsServer: true },
      changes: false,
    },
  ];
  for (const c of hashCases) {
    test(`its hash ${c.changes ? "changes" : "does not change"} with ${c.name}`, () => {
      const before = hashOf(cpaFixture());
      assert.ok(before && /^[0-9a-f]{16}$/.test(before));
      assert.equal(hashOf(cpaFixture(c.spec)) !== before, c.changes);
    });
  }

  test("its hash does not depend on key order in the template", () => {
    const a = cpaFixture({
      template: { spec: { containers: [{ name: "c", image: "i" }], restartPolicy: "Always" } },
    });
    const b = cpaFixture({
      template: { spec: { restartPolicy: "Always", containers: [{ image: "i", name: "c" }] } },
    });
    assert.equal(hashOf(a), hashOf(b));
  });
});

describe("the autoscaler Pod's security defaults", () => {
  const container = (securityContext?: SecurityContext) => ({
    name: "c",
    image: "i",
    ...(securityContext ? { securityContext } : {}),
  });
  test("fill in the RuntimeDefault seccomp profile and no privilege escalation where the template is silent", () => {
    const spec = withSecurityDefaults({ containers: [container()], initContainers: [container()] });
    assert.deepEqual(spec.securityContext, { seccompProfile: { type: "RuntimeDefault" } });
    assert.deepEqual(spec.containers[0]?.securityContext, { allowPrivilegeEscalation: false });
    assert.deepEqual(spec.initContainers?.[0]?.securityContext, { allowPrivilegeEscalation: false });
  });
  test("keep what the template sets", () => {
    const spec = withSecurityDefaults({
      securityContext: { runAsUser: 1000, seccompProfile: { type: "Unconfined" } },
      containers: [container({ allowPrivilegeEscalation: true, runAsNonRoot: true })],
    });
    assert.deepEqual(spec.securityContext, { runAsUser: 1000, seccompProfile: { type: "Unconfined" } });
    assert.deepEqual(spec.containers[0]?.securityContext, {
      allowPrivilegeEscalation: true,
      runAsNonRoot: true,
    });
  });
  const leftAlone = [
    { name: "privileged", ctx: { privileged: true } },
    { name: "adding CAP_SYS_ADMIN", ctx: { capabilities: { add: ["CAP_SYS_ADMIN"] } } },
    { name: "adding SYS_ADMIN", ctx: { capabilities: { add: ["SYS_ADMIN"] } } },
  ];
  for (const c of leftAlone) {
    test(`leave privilege escalation unset in a container ${c.name} (the apiserver refuses the combination)`, () => {
      const spec = withSecurityDefaults({ containers: [container(c.ctx)] });
      assert.equal(spec.containers[0]?.securityContext?.allowPrivilegeEscalation, undefined);
    });
  }
  test("leave Windows Pods alone (they may not set seccomp)", () => {
    const spec = withSecurityDefaults({ os: { name: "windows" }, containers: [container()] });
    assert.equal(spec.securityContext, undefined);
    assert.equal(spec.containers[0]?.securityContext, undefined);
  });
  test("are part of the Pod and its hash", () => {
    const pod = desiredPod(cpaFixture(), "python-custom-autoscaler");
    assert.deepEqual(pod.spec?.securityContext?.seccompProfile, { type: "RuntimeDefault" });
  });
});

describe("the autoscaler Pod's other defaults", () => {
  test("it may be evicted by the cluster autoscaler unless the template says otherwise", () => {
    assert.equal(desiredPod(cpaFixture(), "sa").metadata?.annotations?.[SAFE_TO_EVICT_ANNOTATION], "true");
    const pinned = cpaFixture({
      template: {
        metadata: { annotations: { [SAFE_TO_EVICT_ANNOTATION]: "false" } },
        spec: { containers: [{ name: "c", image: "i" }] },
      },
    });
    assert.equal(desiredPod(pinned, "sa").metadata?.annotations?.[SAFE_TO_EVICT_ANNOTATION], "false");
  });
  test("a crashed container's last log lines become its termination message, unless the template says otherwise", () => {
    const cpa = cpaFixture({
      template: {
        spec: {
          containers: [
            { name: "a", image: "i" },
            { name: "b", image: "i", terminationMessagePolicy: "File" },
          ],
        },
      },
    });
    const policies = desiredPod(cpa, "sa").spec?.containers.map((c) => c.terminationMessagePolicy);
    assert.deepEqual(policies, ["FallbackToLogsOnError", "File"]);
  });
});
