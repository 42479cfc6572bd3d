// `npm run release` as the README runs it, against a real registry (the
// plane's: Debian's docker-registry on 127.0.0.1): every image pushed, the
// assets pinned by digest and checksummed, the operator pulled from the
// registry by digest, and an install from those assets that runs it and
// provisions a CPA. The chart in the assets renders the same pinned image.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { CoreV1Api } from "@kubernetes/client-node";
import { parse, parseAllDocuments, stringify } from "yaml";
import { Journey } from "../../hack/journey.ts";
import { ContainerRunner } from "../../hack/local-pods/container-runner.ts";
import { LocalKubelet } from "../../hack/local-pods/kubelet.ts";
import { cannotBuild } from "../../hack/image/platforms.ts";
import { ensureActionlint, ensureHelm } from "../../hack/plane/build.ts";
import { cacheDir, KUBERNETES_VERSION } from "../../hack/plane/config.ts";
import { DocShell } from "../support/doc-shell.ts";
import { ensureImages, podman } from "../support/images.ts";
import { adminConfig, eventually, kubectl, testNamespace } from "../support/kube.ts";
import { pauseDeployment } from "../support/fixtures.ts";
import { repoFile } from "../support/processes.ts";

const admin = adminConfig();
const core = admin.makeApiClient(CoreV1Api);
const images = new ContainerRunner();
const kubelet = new LocalKubelet({ admin, images });
const journey = new Journey({ kubectl: ok, admin, kubelet, timeoutMs: 120_000 });
const IMAGE = "release-fixture:test";
const { version } = JSON.parse(readFileSync(repoFile("package.json"), "utf8")) as { version: string };
const assets = join(cacheDir, "release", version);

async function ok(args: string[], input?: string): Promise<string> {
  const res = await kubectl(args, input);
  assert.equal(res.code, 0, `kubectl ${args.join(" ")}: ${res.stderr}`);
  return res.stdout;
}

before(async () => {
  await ensureImages();
  await images.build(IMAGE, repoFile("examples", "getting-started"));
  await kubelet.start();
  assert.ok(kubelet.registry, "the plane has no image registry: see `npm run cluster:up`'s output");
});
after(async () => {
  await kubelet.stop();
  await kubectl(["apply", "-f", repoFile("config", "cluster.yaml")]);
});

interface PushedImage {
  image: string;
  digest: string;
  pinned: string;
  platforms: string[];
}

const LIST_TYPES = [
  "application/vnd.oci.image.index.v1+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
];

/** The platforms of the manifest list the registry serves under `image` (registry/repo:tag). */
async function listPlatforms(image: string): Promise<{ digest: string | null; platforms: string[] }> {
  const registry = kubelet.registry ?? "";
  const [repo, tag] = image.slice(registry.length + 1).split(":");
  const res = await fetch(`http://${registry}/v2/${repo ?? ""}/manifests/${tag ?? ""}`, {
    headers: { accept: LIST_TYPES.join(", ") },
  });
  assert.equal(res.status, 200, image);
  assert.ok(LIST_TYPES.includes(res.headers.get("content-type") ?? ""), `${image} is a manifest list`);
  const list = (await res.json()) as { manifests: { platform: { os: string; architecture: string } }[] };
  return {
    digest: res.headers.get("docker-content-digest"),
    platforms: list.manifests.map((m) => `${m.platform.os}/${m.platform.architecture}`),
  };
}

/** images.yaml's images, each checked in the registry under the digest it names. */
async function checkRegistry(registry: string): Promise<PushedImage[]> {
  const pushed = parse(readFileSync(join(assets, "images.yaml"), "utf8")) as PushedImage[];
  assert.deepEqual(
    pushed.map((p) => p.image.slice(registry.length + 1)),
    [`cpa:${version}`, `cpa-python:${version}`, `cpa:${version}-dropin`, `cpa-python:${version}-dropin`],
  );
  for (const p of pushed) {
    const served = await listPlatforms(p.image);
    assert.equal(served.digest, p.digest, p.image);
    assert.deepEqual(served.platforms, p.platforms, p.image);
  }
  return pushed;
}

/** SHA256SUMS covers every asset, and each sum is right. */
function checkSums(): void {
  const sums = readFileSync(join(assets, "SHA256SUMS"), "utf8").trim().split("\n");
  const named = sums.map((l) => l.split(/\s+/)[1]).sort();
  assert.deepEqual(
    named,
    ["RELEASE_NOTES.md", "cluster.yaml", `cpa-${version}.tgz`, "images.yaml", "namespaced.yaml"].sort(),
  );
  for (const line of sums) {
    const [sum, file] = line.split(/\s+/);
    assert.equal(
      createHash("sha256")
        .update(readFileSync(join(assets, file ?? "")))
        .digest("hex"),
      sum,
      file ?? line,
    );
  }
  assert.match(readFileSync(join(assets, "RELEASE_NOTES.md"), "utf8"), new RegExp(`^## \\[${version}\\]`));
}

/** The operator's image in the Deployment the release's chart renders. */
async function chartImage(): Promise<string | undefined> {
  const helm = ensureHelm(() => undefined);
  const rendered = await new Promise<string>((resolve, reject) => {
    execFile(
      helm,
      [
        "template",
        "cpa",
        join(assets, `cpa-${version}.tgz`),
        "-n",
        "cpa-system",
        "--kube-version",
        KUBERNETES_VERSION,
      ],
      (err, stdout, stderr) => {
        if (err) reject(new Error(stderr));
        else resolve(stdout);
      },
    );
  });
  const deployment = parseAllDocuments(rendered)
    .map(
      (d) =>
        d.toJS() as {
          kind?: string;
          spec?: { template: { spec: { containers: { image: string }[] } } };
        } | null,
    )
    .find((o) => o?.kind === "Deployment");

  return deployment?.spec?.template.spec.containers[0]?.image;
}

describe("npm run release", () => {
  test("pushes every image, writes assets pinned by digest; an install from them runs the operator by digest", async (t) => {
    const registry = `${kubelet.registry ?? ""}/cpa-release`;
    const namespace = await testNamespace(t);
    const sh = DocShell.of(t, { namespace });
    await sh.run("npm run release -- --registry 127.0.0.1:5000/cpa --test-base", {
      substitute: { "127.0.0.1:5000/cpa": registry },
    });

    const pushed = await checkRegistry(registry);
    // Every architecture this machine can build (.ci/run enables arm64 emulation first); the one
    // it cannot is left out with its reason, in the release's log and here.
    const arm64 = cannotBuild("arm64");
    for (const p of pushed)
      assert.deepEqual(p.platforms, arm64 ? ["linux/amd64"] : ["linux/amd64", "linux/arm64"], p.image);
    checkSums();
    const operatorImage = pushed[0]?.pinned ?? "";
    assert.match(operatorImage, /@sha256:[a-f0-9]{64}$/);
    const bundle = readFileSync(join(assets, "cluster.yaml"), "utf8");
    assert.ok(bundle.includes(`image: ${operatorImage}`), "the bundle pins the operator by digest");
    assert.equal(await chartImage(), operatorImage, "the chart pins the same image");
    // The registry serves the operator by digest, as a node pulls it.
    const pulled = await podman("pull", "--tls-verify=false", operatorImage);
    assert.equal(pulled.code, 0, pulled.stderr);
    // The install from the assets runs that image. (This node already holds it, under the tag it
    // was built with and pushed from, so it starts it without pulling; a node without it pulls.)
    await journey.installOperator(["-f", join(assets, "cluster.yaml")], "cpa-system");
    const pods = await core.listNamespacedPod({
      namespace: "cpa-system",
      labelSelector: "app.kubernetes.io/name=cpa-operator",
    });
    const live = pods.items.filter((p) => !p.metadata?.deletionTimestamp);
    assert.ok(live.length > 0);
    for (const p of live) {
      assert.equal(p.spec?.containers[0]?.image, operatorImage);
      assert.equal(p.status?.phase, "Running");
    }

    const target = pauseDeployment("web", { labels: { numPods: "3" } });
    const cpa = {
      apiVersion: "custompodautoscaler.com/v1",
      kind: "CustomPodAutoscaler",
      metadata: { name: "web-scaler" },
      spec: {
        template: {
          spec: { containers: [{ name: "web-scaler", image: IMAGE, imagePullPolicy: "IfNotPresent" }] },
        },
        scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: "web" },
        config: [{ name: "interval", value: "1000" }],
      },
    };
    await ok(["apply", "-n", namespace, "-f", "-"], `${stringify(target)}---\n${stringify(cpa)}`);
    await journey.cpaReady(namespace, "web-scaler");
    await eventually(
      "web at 3 replicas",
      async () => ((await journey.replicas(namespace, "web")) === 3 ? true : undefined),
      90_000,
    );

    await t.test("the operator's arm64 image runs, emulated, and says its version", async (st) => {
      if (arm64) {
        st.skip(`arm64 was not built: ${arm64}`);
        return;
      }
      const run = await podman(
        "run",
        "--rm",
        "--network=none",
        "--arch=arm64",
        "--tls-verify=false",
        operatorImage,
        "--version",
      );
      assert.equal(run.code, 0, run.stderr);
      assert.equal(run.stdout.trim(), `cpa ${version}`);
      const arch = await podman(
        "run",
        "--rm",
        "--network=none",
        "--arch=arm64",
        "--entrypoint=uname",
        operatorImage,
        "-m",
      );
      assert.equal(arch.stdout.trim(), "aarch64", arch.stderr);
    });
  });
});

test("the GitHub workflows pass actionlint; the release workflow runs npm run release from a tag", async () => {
  const actionlint = ensureActionlint((line) => process.stderr.write(`[actionlint] ${line}\n`));
  const res = await new Promise<{ code: number; out: string }>((resolve) => {
    execFile(actionlint, ["-color=false"], { cwd: repoFile() }, (err, stdout, stderr) => {
      resolve({ code: err ? 1 : 0, out: `${stdout}${stderr}` });
    });
  });
  assert.equal(res.code, 0, res.out);
  const workflow = parse(readFileSync(repoFile(".github", "workflows", "release.yml"), "utf8")) as {
    on: { push: { tags: string[] } };
    jobs: { release: { steps: { run?: string }[] } };
  };
  assert.deepEqual(workflow.on.push.tags, ["v*"]);
  const release = workflow.jobs.release.steps.find((st) => st.run?.includes("npm run release -- --registry"));
  assert.ok(release, "a step runs npm run release");
  // Both architectures by name, so a runner that cannot emulate arm64 fails rather than ship amd64 alone.
  assert.match(release.run ?? "", /--arch amd64,arm64/);
  assert.ok(workflow.jobs.release.steps.some((st) => st.run?.includes("bash hack/enable-arm64.sh")));
  const ci = readFileSync(repoFile(".github", "workflows", "ci.yml"), "utf8");
  assert.match(ci, /bash \.ci\/run/);
});
