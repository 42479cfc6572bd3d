// The operator in a Pod loads only what it uses: in-cluster credentials are
// read directly, so @kubernetes/client-node (about 80 MB of generated API
// classes) is never loaded; a kubeconfig is what needs it.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import type { V1Pod } from "@kubernetes/client-node";
import { parseAllDocuments } from "yaml";
import { adminConfig, eventually, kubectl } from "../support/kube.ts";
import {
  cleanupOf,
  freePort,
  repoFile,
  runCpa,
  runPod,
  serviceAccountKubeconfig,
} from "../support/processes.ts";

const CLIENT_NODE = "/node_modules/@kubernetes/client-node/";

interface Container {
  env?: { name: string; valueFrom?: unknown }[];
  [field: string]: unknown;
}

interface BundleDoc {
  kind?: string;
  spec?: { template?: { spec?: { containers: Container[]; [field: string]: unknown } } };
}

/** The operator's Pod as config/cluster.yaml's Deployment makes it, on a free port, recording its imports. */
function operatorPod(port: number, importLog: string): V1Pod {
  const docs = parseAllDocuments(readFileSync(repoFile("config", "cluster.yaml"), "utf8")).map(
    (d) => d.toJS() as BundleDoc,
  );
  const spec = docs.find((d) => d.kind === "Deployment")?.spec?.template?.spec;
  const container = spec?.containers[0];
  assert.ok(spec && container);
  const pod = {
    metadata: { name: "cpa-operator-footprint", namespace: "cpa-system" },
    spec: {
      ...spec,
      containers: [
        {
          ...container,
          args: ["operator", `--http-address=127.0.0.1:${port}`],
          env: [
            ...(container.env ?? []).filter((e) => e.valueFrom === undefined),
            { name: "POD_NAMESPACE", value: "cpa-system" },
            { name: "SERVICE_ACCOUNT_NAME", value: "cpa-operator" },
            { name: "NODE_OPTIONS", value: `--import=${repoFile("test", "support", "record-imports.ts")}` },
            { name: "CPA_IMPORT_LOG", value: importLog },
          ],
        },
      ],
    },
  };
  return pod as unknown as V1Pod;
}

const loaded = (importLog: string): string[] => readFileSync(importLog, "utf8").split("\n").filter(Boolean);

test("the operator in a Pod, with in-cluster credentials, never loads @kubernetes/client-node", async (t) => {
  const res = await kubectl(["apply", "-f", repoFile("config", "cluster.yaml")]);
  assert.equal(res.code, 0, res.stderr);
  await kubectl(["scale", "deployment/cpa-operator", "-n", "cpa-system", "--replicas=0"]);
  const importLog = join(mkdtempSync(join(tmpdir(), "cpa-imports-")), "in-cluster.log");
  const port = await freePort();
  const operator = await runPod(cleanupOf(t), operatorPod(port, importLog), {}, adminConfig());
  await eventually("the operator to be ready", async () => {
    if (operator.child.exitCode !== null) throw new Error(`the operator exited:\n${operator.output()}`);
    return (await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined))?.ok ? true : undefined;
  });
  const modules = loaded(importLog);
  assert.ok(
    modules.some((m) => m.includes("/src/operator/controller.")),
    "the import log recorded nothing useful",
  );
  assert.deepEqual(
    modules.filter((m) => m.includes(CLIENT_NODE)),
    [],
  );
});

test("with a kubeconfig it does load client-node, which reads kubeconfigs (so the check above can fail)", async (t) => {
  const importLog = join(mkdtempSync(join(tmpdir(), "cpa-imports-")), "kubeconfig.log");
  const port = await freePort();
  const kubeconfig = await serviceAccountKubeconfig("cpa-system", "cpa-operator");
  const operator = runCpa(
    cleanupOf(t),
    ["operator", `--kubeconfig=${kubeconfig}`, `--http-address=127.0.0.1:${port}`],
    {
      NODE_OPTIONS: `--import=${repoFile("test", "support", "record-imports.ts")}`,
      CPA_IMPORT_LOG: importLog,
    },
  );
  await eventually("the operator to be ready", async () => {
    if (operator.child.exitCode !== null) throw new Error(`the operator exited:\n${operator.output()}`);
    return (await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined))?.ok ? true : undefined;
  });
  assert.ok(loaded(importLog).some((m) => m.includes(CLIENT_NODE)));
});
