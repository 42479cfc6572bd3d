// Which events reconcile a CPA. Every autoscaler writes its CPA's status every
// interval; at thousands of CPAs, reconciling each of those writes would be
// most of the operator's work for nothing. Only a change of the spec, of the
// labels or annotations, or the deletion queues a CPA; its owned objects'
// events still do. One worker (--workers=1) takes keys in the order they were
// queued, so once a later key's pass is logged, any pass queued before it is
// logged too: the test waits on that, never on a timer.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { stringify } from "yaml";
import { DocShell } from "../support/doc-shell.ts";
import { installBundleWithoutItsOperator, pauseDeployment } from "../support/fixtures.ts";
import { eventually, kubectl, testNamespace } from "../support/kube.ts";
import { startOperator, type Operator } from "../support/processes.ts";

let operator: Operator;
const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const fn of cleanups) await fn();
});

before(async () => {
  await installBundleWithoutItsOperator();
  operator = await startOperator(
    (fn) => {
      cleanups.push(fn);
    },
    ["--workers=1", "--log-level=debug"],
  );
});

async function ok(args: string[], input?: string): Promise<string> {
  const res = await kubectl(args, input);
  assert.equal(res.code, 0, `kubectl ${args.join(" ")}: ${res.stderr}`);
  return res.stdout;
}

interface PassLine {
  msg?: string;
  cpa?: string;
  requeueAfterMs?: number;
  terminal?: boolean;
}

/** The passes the operator has logged for namespace/name, oldest first. */
function passLines(key: string): PassLine[] {
  const out: PassLine[] = [];
  for (const line of operator.output().split("\n")) {
    if (!line.startsWith("{")) continue;
    try {
      const entry = JSON.parse(line) as PassLine;
      if (entry.msg === "Reconciled" && entry.cpa === key) out.push(entry);
    } catch {
      // Not a log line of the operator's.
    }
  }
  return out;
}

const passes = (key: string): number => passLines(key).length;

const cpa = (name: string): object => ({
  apiVersion: "custompodautoscaler.com/v1",
  kind: "CustomPodAutoscaler",
  metadata: { name },
  spec: {
    // An image the fake node only pretends to run: its Pod's status stays as it is.
    template: {
      spec: { containers: [{ name, image: "cpa-events-fixture:none", imagePullPolicy: "Never" }] },
    },
    scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: "web" },
  },
});

describe("what reconciles a CPA", () => {
  test("a status-only write queues no reconcile; a label change does", async (t) => {
    const namespace = await testNamespace(t);
    const web = pauseDeployment("web");
    await ok(
      ["apply", "-n", namespace, "-f", "-"],
      [web, cpa("a"), cpa("b")].map((o) => stringify(o)).join("---\n"),
    );
    for (const name of ["a", "b"])
      await ok(["wait", "-n", namespace, `cpa/${name}`, "--for=condition=Ready", "--timeout=60s"]);
    const a = `${namespace}/a`;
    const b = `${namespace}/b`;
    // A pass queued before this marker has been logged once the marker's pass is.
    const mark = async (label: string): Promise<void> => {
      const before = passes(b);
      await ok(["label", "-n", namespace, "cpa/b", `mark=${label}`, "--overwrite"]);
      await eventually(`b's pass for mark=${label}`, () =>
        Promise.resolve(passes(b) > before ? true : undefined),
      );
    };
    await mark("settled");
    const settled = passes(a);

    // What every autoscaler does each interval: its part of the status.
    await ok([
      "patch",
      "-n",
      namespace,
      "cpa/a",
      "--subresource=status",
      "--type=merge",
      "-p",
      JSON.stringify({ status: { currentReplicas: 1, desiredReplicas: 1 } }),
    ]);
    assert.equal(
      JSON.parse(await ok(["get", "-n", namespace, "cpa/a", "-o", "jsonpath={.status.desiredReplicas}"])),
      1,
      "the status write landed",
    );
    await mark("after-status");
    assert.equal(passes(a), settled, "a status-only write reconciled the CPA");

    // The control: a change the operator reads does reconcile.
    await ok(["annotate", "-n", namespace, "cpa/a", "note=changed"]);
    await mark("after-annotation");
    assert.equal(passes(a), settled + 1, "an annotation change reconciled the CPA once");
  });

  test("a CPA that cannot work as written reports why and waits on the slow backoff; changing it retries at once", async (t) => {
    const namespace = await testNamespace(t);
    // A ServiceAccount of the CPA's name that it does not own: nothing the operator can fix.
    await ok(["create", "serviceaccount", "c", "-n", namespace]);
    await ok(["apply", "-n", namespace, "-f", "-"], stringify(cpa("c")));
    const key = `${namespace}/c`;
    await eventually("the ResourceExists condition", async () => {
      const reason = await ok([
        "get",
        "-n",
        namespace,
        "cpa/c",
        "-o",
        'jsonpath={.status.conditions[?(@.type=="Ready")].reason}',
      ]);
      return reason.trim() === "ResourceExists" ? true : undefined;
    });
    await eventually("a pass that finds only that", () =>
      Promise.resolve(passLines(key).at(-1)?.terminal ? true : undefined),
    );
    const last = passLines(key).at(-1);
    assert.equal(last?.terminal, true, "the problem is terminal: the slow backoff, not the usual one");
    assert.equal(last.requeueAfterMs, 10 * 60_000, "retried at most every 10 minutes");

    // The fix the condition names: remove the ServiceAccount; the CPA changing brings a pass at once.
    await ok(["delete", "serviceaccount", "c", "-n", namespace]);
    const before = passes(key);
    // docs/operator.md's nudge, as written.
    await DocShell.of(t, { namespace }).run('kubectl annotate cpa NAME retry="$(date +%s)" --overwrite', {
      substitute: { NAME: "c" },
    });
    await eventually("a pass for the change", () => Promise.resolve(passes(key) > before ? true : undefined));
    await ok(["wait", "-n", namespace, "cpa/c", "--for=condition=Ready", "--timeout=60s"]);
  });
});

describe("spec.config, checked before any Pod runs", () => {
  test("an entry the runtime would refuse is a ConfigValid=False condition and a Warning; the Pod runs all the same", async (t) => {
    const namespace = await testNamespace(t);
    const bad = cpa("d") as { spec: { config?: { name: string; value: string }[] } };
    bad.spec.config = [
      { name: "interval", value: "ten" },
      { name: "MY_SETTING", value: "anything" },
    ];
    await ok(["apply", "-n", namespace, "-f", "-"], stringify(bad));
    const message = await eventually("ConfigValid=False", async () => {
      const out = await ok([
        "get",
        "-n",
        namespace,
        "cpa/d",
        "-o",
        'jsonpath={.status.conditions[?(@.type=="ConfigValid")].status}/{.status.conditions[?(@.type=="ConfigValid")].message}',
      ]);
      return out.startsWith("False/") ? out.slice("False/".length) : undefined;
    });
    assert.match(
      message,
      /^spec\.config: interval: expected a whole number, got "ten" \(from env var interval\)/,
    );
    assert.doesNotMatch(message, /MY_SETTING/, "names the runtime does not read are the scripts' own");
    await eventually("the Warning event", async () => {
      const events = await ok([
        "get",
        "events",
        "-n",
        namespace,
        "--field-selector",
        "involvedObject.name=d,reason=InvalidConfig,type=Warning",
        "-o",
        "name",
      ]);
      return events.trim() ? true : undefined;
    });
    await ok(["wait", "-n", namespace, "pod/d", "--for=condition=Ready", "--timeout=60s"]);

    // Fixed: the condition turns True.
    bad.spec.config = [{ name: "interval", value: "15000" }];
    await ok(["apply", "-n", namespace, "-f", "-"], stringify(bad));
    await ok(["wait", "-n", namespace, "cpa/d", "--for=condition=ConfigValid", "--timeout=60s"]);
  });
});
