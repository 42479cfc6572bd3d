// End to end on the Pod network: the operator and an autoscaler run as real
// containers, each in a network namespace of its own, and the autoscaler's
// per-pod metric stage asks each target Pod over HTTP on its own IP, port 5000
// (the port the autoscaler's own API listens on: no collision), as the
// original's simple-pod-metrics examples do. `kubectl logs` shows the decision.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { stringify } from "yaml";
import { Journey } from "../../hack/journey.ts";
import { ContainerRunner } from "../../hack/local-pods/container-runner.ts";
import { PYTHON_IMAGE } from "../../hack/local-pods/images.ts";
import { LocalKubelet } from "../../hack/local-pods/kubelet.ts";
import { ensureImages } from "../support/images.ts";
import { adminConfig, eventually, kubectl, testNamespace } from "../support/kube.ts";
import { repoFile } from "../support/processes.ts";

const admin = adminConfig();
const images = new ContainerRunner();
const kubelet = new LocalKubelet({ admin, images });
const journey = new Journey({ kubectl: ok, admin, kubelet, timeoutMs: 90_000 });
const IMAGE = "per-pod-http-autoscaler:test";
let dir = "";

async function ok(args: string[], input?: string): Promise<string> {
  const res = await kubectl(args, input);
  assert.equal(res.code, 0, `kubectl ${args.join(" ")}: ${res.stderr}`);
  return res.stdout;
}

/** Each web Pod: GET /metric answers its own name and load, on port 5000 of its own address. */
const WEB_SERVER = `
import http.server, json, socket
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({"pod": socket.gethostname(), "load": 75}).encode()
        self.send_response(200); self.end_headers(); self.wfile.write(body)
    def log_message(self, *a): pass
http.server.HTTPServer(("", 5000), H).serve_forever()
`;

/** The metric stage: GET http://{podIP}:5000/metric of the Pod it is given; fails if another Pod answers. */
const METRIC = `
import json, sys, urllib.request
pod = json.load(sys.stdin)["resource"]
ip, name = pod["status"]["podIP"], pod["metadata"]["name"]
answer = json.load(urllib.request.urlopen(f"http://{ip}:5000/metric", timeout=2))
if answer["pod"] != name:
    sys.exit(f"{ip} answered as {answer['pod']}, not {name}")
sys.stdout.write(str(answer["load"]))
`;

const EVALUATE = `
import json, math, sys
spec = json.load(sys.stdin)
loads = [float(m["value"]) for m in spec["metrics"]]
sys.stdout.write(json.dumps({"targetReplicas": math.ceil(sum(loads) / 50)}))
`;

before(async () => {
  await ensureImages();
  dir = mkdtempSync(join(tmpdir(), "cpa-per-pod-http-"));
  writeFileSync(join(dir, "metric.py"), METRIC);
  writeFileSync(join(dir, "evaluate.py"), EVALUATE);
  writeFileSync(
    join(dir, "config.yaml"),
    stringify({
      runMode: "per-pod",
      interval: 2000,
      maxReplicas: 3,
      metric: { type: "shell", timeout: 5000, shell: { entrypoint: "python3", command: ["/app/metric.py"] } },
      evaluate: {
        type: "shell",
        timeout: 5000,
        shell: { entrypoint: "python3", command: ["/app/evaluate.py"] },
      },
    }),
  );
  writeFileSync(
    join(dir, "Dockerfile"),
    `FROM ${PYTHON_IMAGE}\nADD config.yaml metric.py evaluate.py /app/\n`,
  );
  await images.build(IMAGE, dir);
  await kubelet.start();
  assert.equal(
    kubelet.sharedNetwork,
    undefined,
    `local Pods would share the host's network: ${kubelet.sharedNetwork}`,
  );
});
after(async () => {
  await kubelet.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("per-pod metrics over the Pod network", () => {
  test("the autoscaler asks each target Pod on its own IP, scales 2 -> 3, and kubectl logs shows the decision", async (t) => {
    await journey.installOperator(["-f", repoFile("config", "cluster.yaml")], "cpa-system");
    const namespace = await testNamespace(t);
    const web = {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "web" },
      spec: {
        replicas: 2,
        selector: { matchLabels: { app: "web" } },
        template: {
          metadata: { labels: { app: "web" } },
          spec: {
            terminationGracePeriodSeconds: 1,
            containers: [{ name: "web", image: PYTHON_IMAGE, command: ["python3", "-c", WEB_SERVER] }],
          },
        },
      },
    };
    const cpa = {
      apiVersion: "custompodautoscaler.com/v1",
      kind: "CustomPodAutoscaler",
      metadata: { name: "per-pod-http" },
      spec: {
        template: {
          spec: { containers: [{ name: "per-pod-http", image: IMAGE, imagePullPolicy: "IfNotPresent" }] },
        },
        scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: "web" },
        config: [{ name: "configPath", value: "/app/config.yaml" }],
      },
    };
    await ok(["apply", "-n", namespace, "-f", "-"], stringify(web));
    await ok(["rollout", "status", "-n", namespace, "deployment/web", "--timeout=90s"]);
    await ok(["apply", "-n", namespace, "-f", "-"], stringify(cpa));
    await journey.cpaReady(namespace, "per-pod-http");
    await journey.reachReplicas(namespace, "web", 3, { scaler: "per-pod-http" });

    // Every Pod has its own address: the three web Pods and the autoscaler.
    const wide = await ok([
      "get",
      "pods",
      "-n",
      namespace,
      "-o",
      'jsonpath={range .items[*]}{.status.podIP}{"\\n"}{end}',
    ]);
    const ips = wide.trim().split("\n");
    assert.equal(new Set(ips).size, ips.length, `Pod IPs: ${ips.join(", ")}`);

    // The decision, as `kubectl logs` shows it: one metric per web Pod, each from that Pod.
    const metrics = await eventually(
      "a decision over three Pods in the autoscaler's log",
      async () => {
        const log = await ok(["logs", "-n", namespace, "per-pod-http"]);
        const lines = log
          .trimEnd()
          .split("\n")
          .filter((l) => l.includes('"evaluation"'));
        const last = lines.at(-1);
        if (!last) return undefined;
        // The run's flight record (src/autoscaler/recorder/record.ts) is the line's `record`.
        const entry = JSON.parse(last) as { record?: { metrics?: { resource?: string; value?: string }[] } };
        const metrics = entry.record?.metrics;
        return metrics?.length === 3 ? metrics : undefined;
      },
      60_000,
    );
    assert.deepEqual(
      metrics.map((m) => m.value),
      ["75", "75", "75"],
    );
    const names = (await ok(["get", "pods", "-n", namespace, "-l", "app=web", "-o", "name"]))
      .trim()
      .split("\n")
      .map((n) => n.replace("pod/", ""))
      .sort();
    assert.deepEqual(metrics.map((m) => m.resource).sort(), names);
  });
});
