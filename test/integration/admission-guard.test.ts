// The operator provisions nothing without the admission policy it relies on
// (src/operator/admission-guard.ts): with the binding gone, or the policy
// weakened, every CPA says why in its conditions and a Warning event, the
// operator is not ready, and nothing is created; once the bundle is applied
// again it provisions. --skip-admission-policy-check opts out, with a warning.
// The operator runs as the cluster bundle's ServiceAccount, whose rights to
// read the policy are the bundle's.
import assert from "node:assert/strict";
import { after, before, describe, test, type TestContext } from "node:test";
import { stringify } from "yaml";
import { adminConfig, eventually, kubectl, testNamespace } from "../support/kube.ts";
import { pauseDeployment } from "../support/fixtures.ts";
import {
  freePort,
  repoFile,
  runCpa,
  serviceAccountKubeconfig,
  type RunningProcess,
} from "../support/processes.ts";
import { CoreV1Api } from "@kubernetes/client-node";

const core = adminConfig().makeApiClient(CoreV1Api);
const POLICY = "cpa-requester-rights";

async function ok(args: string[], input?: string): Promise<string> {
  const res = await kubectl(args, input);
  assert.equal(res.code, 0, `kubectl ${args.join(" ")}: ${res.stderr}`);
  return res.stdout;
}

const restore = (): Promise<string> => ok(["apply", "-f", repoFile("config", "cluster.yaml")]);

before(async () => {
  await restore();
  // The bundle's own Deployment would run on the fake node: these tests run the operator themselves.
  await ok(["scale", "deployment/cpa-operator", "-n", "cpa-system", "--replicas=0"]);
});
after(async () => {
  await restore();
});

async function operator(
  t: TestContext,
  extra: string[] = [],
): Promise<{ proc: RunningProcess; readyz: string }> {
  const kubeconfig = await serviceAccountKubeconfig("cpa-system", "cpa-operator");
  const port = await freePort();
  const proc = runCpa(
    (fn) => {
      t.after(fn);
    },
    [
      "operator",
      `--kubeconfig=${kubeconfig}`,
      `--http-address=127.0.0.1:${port}`,
      "--admission-policy-check-interval=1s",
      ...extra,
    ],
  );
  return { proc, readyz: `http://127.0.0.1:${port}/readyz` };
}

const status = async (url: string): Promise<number | undefined> =>
  (await fetch(url).catch(() => undefined))?.status;

async function applyCpa(namespace: string): Promise<void> {
  const target = pauseDeployment("web");
  const cpa = {
    apiVersion: "custompodautoscaler.com/v1",
    kind: "CustomPodAutoscaler",
    metadata: { name: "scaler" },
    spec: {
      template: { spec: { containers: [{ name: "scaler", image: "cpa-python:0.1.0" }] } },
      scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: "web" },
    },
  };
  await ok(["apply", "-n", namespace, "-f", "-"], `${stringify(target)}---\n${stringify(cpa)}`);
}

const ready = async (
  namespace: string,
): Promise<{ status: string; reason: string; message: string } | undefined> => {
  const out = await ok([
    "get",
    "cpa",
    "scaler",
    "-n",
    namespace,
    "-o",
    "jsonpath={.status.conditions[?(@.type=='Provisioned')]}",
  ]);
  return out.trim() ? (JSON.parse(out) as { status: string; reason: string; message: string }) : undefined;
};

const podExists = async (namespace: string): Promise<boolean> =>
  (await core.readNamespacedPod({ name: "scaler", namespace }).catch(() => undefined)) !== undefined;

describe("the operator without its admission policy", () => {
  test("the binding deleted: nothing provisioned, every CPA says why, not ready; applied again, it provisions", async (t) => {
    await ok(["delete", "validatingadmissionpolicybinding", POLICY]);
    t.after(restore);
    const namespace = await testNamespace(t);
    await applyCpa(namespace);
    const { proc, readyz } = await operator(t);

    const condition = await eventually("the CPA's Provisioned condition", async () => {
      const c = await ready(namespace);
      return c?.reason === "AdmissionPolicyMissing" ? c : undefined;
    });
    assert.equal(condition.status, "False");
    assert.match(condition.message, /ValidatingAdmissionPolicyBinding cpa-requester-rights is missing/);
    assert.match(condition.message, /--skip-admission-policy-check/);
    const events = await ok([
      "get",
      "events",
      "-n",
      namespace,
      "--field-selector",
      "involvedObject.name=scaler,type=Warning",
      "-o",
      "jsonpath={.items[*].reason}",
    ]);
    assert.match(events, /AdmissionPolicyMissing/);
    assert.equal(await status(readyz), 503, "the operator is not ready without its policy");
    assert.equal(await podExists(namespace), false, "no autoscaler Pod is created");
    assert.match(proc.output(), /Not provisioning any CPA/);

    await restore();
    await eventually(
      "the CPA provisioned once the policy is back",
      async () => ((await ready(namespace))?.status === "True" ? true : undefined),
      60_000,
    );
    assert.equal(await podExists(namespace), true);
    await eventually("the operator ready", async () => ((await status(readyz)) === 200 ? true : undefined));
  });

  test("a weakened policy is refused, naming what changed", async (t) => {
    await ok([
      "patch",
      "validatingadmissionpolicy",
      POLICY,
      "--type=merge",
      "-p",
      '{"spec":{"failurePolicy":"Ignore"}}',
    ]);
    t.after(restore);
    const namespace = await testNamespace(t);
    await applyCpa(namespace);
    await operator(t);
    const condition = await eventually("the CPA's Provisioned condition", async () => {
      const c = await ready(namespace);
      return c?.reason === "AdmissionPolicyMissing" ? c : undefined;
    });
    assert.match(
      condition.message,
      /is not the one this operator ships \(spec\.failurePolicy is "Ignore", expected "Fail"\)/,
    );
    assert.equal(await podExists(namespace), false);
  });

  test("--skip-admission-policy-check provisions without it, and warns", async (t) => {
    await ok(["delete", "validatingadmissionpolicybinding", POLICY]);
    t.after(restore);
    const namespace = await testNamespace(t);
    await applyCpa(namespace);
    const { proc, readyz } = await operator(t, ["--skip-admission-policy-check"]);
    await eventually(
      "the CPA provisioned",
      async () => ((await ready(namespace))?.status === "True" ? true : undefined),
      60_000,
    );
    assert.equal(await status(readyz), 200);
    assert.match(
      proc.output(),
      /--skip-admission-policy-check: provisioning without checking the admission policy/,
    );
  });
});
