// The drop-in flavour (Dockerfile: runtime-dropin, python-dropin), end to end:
// an autoscaler written for the original's image, built FROM ours with its
// Dockerfile otherwise unchanged (`RUN apt-get install`, `RUN pip install -r
// requirements.txt`, files in /app), run by the operator under the original's
// CMD and under a template `command:` that names /app/custom-pod-autoscaler
// through a PHPA-style entrypoint.sh. Its postScale hook writes /post_scale_data.json, as the
// original's post-scale-hook example does, which only root can; the hook's
// stderr reaches `kubectl logs` through logStderr inside `shell:`, where the
// original reads it.
import assert from "node:assert/strict";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { stringify } from "yaml";
import { Journey } from "../../hack/journey.ts";
import { ContainerRunner } from "../../hack/local-pods/container-runner.ts";
import { PYTHON_DROPIN_IMAGE, PYTHON_IMAGE } from "../../hack/local-pods/images.ts";
import { LocalKubelet } from "../../hack/local-pods/kubelet.ts";
import { ensureImages, podman } from "../support/images.ts";
import { adminConfig, eventually, kubectl, testNamespace } from "../support/kube.ts";
import { repoFile } from "../support/processes.ts";

const admin = adminConfig();
const images = new ContainerRunner();
const kubelet = new LocalKubelet({ admin, images });
const journey = new Journey({ kubectl: ok, admin, kubelet, timeoutMs: 90_000 });
const IMAGE = "original-style-autoscaler:test";
let dir = "";

async function ok(args: string[], input?: string): Promise<string> {
  const res = await kubectl(args, input);
  assert.equal(res.code, 0, `kubectl ${args.join(" ")}: ${res.stderr}`);
  return res.stdout;
}

const FILES: Record<string, string> = {
  // What the original's examples do: a Python dependency from PyPI, installed by the image's build.
  "requirements.txt": "six==1.16.0\n",
  "metric.py": 'import six, sys\nsys.stdout.write("2")\n',
  "evaluate.py":
    'import json, sys\nm = json.load(sys.stdin)["metrics"][0]["value"]\nsys.stdout.write(json.dumps({"targetReplicas": int(m)}))\n',
  // The original's post-scale-hook example writes its data to /, which only root may.
  "post_scale.py":
    'import json, sys\nopen("/post_scale_data.json", "w").write(sys.stdin.read())\nsys.stderr.write("wrote /post_scale_data.json\\n")\n',
  // As PHPA-style images start: some set-up, then the original's binary.
  "entrypoint.sh":
    '#!/bin/sh\necho "entrypoint.sh: starting the autoscaler"\nexec /app/custom-pod-autoscaler\n',
  "config.yaml": stringify({
    interval: 2000,
    runMode: "per-resource",
    metric: { type: "shell", timeout: 5000, shell: { entrypoint: "python", command: ["/app/metric.py"] } },
    evaluate: {
      type: "shell",
      timeout: 5000,
      shell: { entrypoint: "python", command: ["/app/evaluate.py"] },
    },
    postScale: {
      type: "shell",
      timeout: 5000,
      shell: { entrypoint: "python", command: ["/app/post_scale.py"], logStderr: true },
    },
  }),
  // The original's Dockerfile shape, FROM line aside.
  Dockerfile: [
    `FROM ${PYTHON_DROPIN_IMAGE}`,
    "WORKDIR /app",
    // As downscale-stabilization and the k8s-metrics examples do: Debian packages, as root.
    "RUN apt-get update && apt-get install -y jq",
    "COPY requirements.txt /app/",
    "RUN pip install -r requirements.txt",
    "ADD config.yaml metric.py evaluate.py post_scale.py entrypoint.sh /app/",
    "ENV configPath=/app/config.yaml",
    "",
  ].join("\n"),
};

before(async () => {
  await ensureImages(["python", "python-dropin"]);
  dir = mkdtempSync(join(tmpdir(), "cpa-dropin-"));
  for (const [name, text] of Object.entries(FILES)) writeFileSync(join(dir, name), text);
  chmodSync(join(dir, "entrypoint.sh"), 0o755);
  await images.build(IMAGE, dir);
  await kubelet.start();
});
after(async () => {
  await kubelet.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("the drop-in image flavour", () => {
  test("unchanged `RUN apt-get install` and `RUN pip install` build FROM it, where the hardened flavour has no pip", async () => {
    const imported = await podman(
      "run",
      "--rm",
      "--network=none",
      IMAGE,
      "python",
      "-c",
      "import six; print(six.__version__)",
    );
    assert.equal(imported.stdout.trim(), "1.16.0", imported.stderr);
    const jq = await podman("run", "--rm", "--network=none", IMAGE, "jq", "-n", "1+1");
    assert.equal(jq.stdout.trim(), "2", jq.stderr);
    const hardened = await podman(
      "run",
      "--rm",
      "--network=none",
      '--entrypoint=["sh","-c","command -v pip || echo none"]',
      PYTHON_IMAGE,
    );
    assert.equal(hardened.stdout.trim(), "none");
  });

  test("the operator runs it under the original's CMD and under a command naming /app/custom-pod-autoscaler; the root-writing hook works", async (t) => {
    await journey.installOperator(["-f", repoFile("config", "cluster.yaml")], "cpa-system");
    const namespace = await testNamespace(t);
    const cases = [
      { name: "by-cmd", command: undefined },
      { name: "by-entrypoint", command: ["/app/entrypoint.sh"] },
    ];
    for (const c of cases) {
      const target = {
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { name: `${c.name}-web` },
        spec: {
          replicas: 1,
          selector: { matchLabels: { app: `${c.name}-web` } },
          template: {
            metadata: { labels: { app: `${c.name}-web` } },
            spec: { containers: [{ name: "web", image: "registry.k8s.io/pause:3.10" }] },
          },
        },
      };
      const container = {
        name: c.name,
        image: IMAGE,
        imagePullPolicy: "IfNotPresent",
        ...(c.command ? { command: c.command } : {}),
      };
      const cpa = {
        apiVersion: "custompodautoscaler.com/v1",
        kind: "CustomPodAutoscaler",
        metadata: { name: c.name },
        spec: {
          template: { spec: { containers: [container] } },
          scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: `${c.name}-web` },
        },
      };
      await ok(["apply", "-n", namespace, "-f", "-"], `${stringify(target)}---\n${stringify(cpa)}`);
    }
    for (const c of cases) {
      await journey.cpaReady(namespace, c.name);
      await journey.reachReplicas(namespace, `${c.name}-web`, 2, { scaler: c.name });
      const log = await eventually(
        `${c.name}'s postScale hook in its log`,
        async () => {
          const out = await ok(["logs", "-n", namespace, c.name]);
          return out.includes("wrote /post_scale_data.json") ? out : undefined;
        },
        60_000,
      );
      assert.doesNotMatch(log, /Permission denied|EACCES/);
      if (c.command) assert.match(log, /^entrypoint\.sh: starting the autoscaler$/m);
    }
  });
});
