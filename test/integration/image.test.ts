// The image, built for real: both Dockerfile targets are built with buildah
// (from the local stand-in for the official Node image, hack/image/test-base.ts)
// and run with podman. The operator container runs as its Deployment says (uid
// 65532, read-only root filesystem, tini as PID 1, a kubelet-style
// ServiceAccount mount) against the control plane.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { isBuiltin } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { AppsV1Api, CoordinationV1Api, type V1Pod } from "@kubernetes/client-node";
import { bindNamespacedOperator } from "../../hack/journey.ts";
import { fullImageName } from "../../hack/local-pods/image-ref.ts";
import {
  PYTHON_DROPIN_IMAGE,
  PYTHON_IMAGE,
  RUNTIME_DROPIN_IMAGE,
  RUNTIME_IMAGE,
} from "../../hack/local-pods/images.ts";
import { TARGETS } from "../../hack/image/build.ts";
import { runPodInContainer } from "../../hack/local-pods/container-runner.ts";
import type { LocalProcess } from "../../hack/local-pods/pod-runner.ts";
import { tool } from "../../hack/image/containers.ts";
import { containerOf, ensureImages, podman } from "../support/images.ts";
import { adminConfig, eventually, kubeconfigPath, kubectl, testNamespace } from "../support/kube.ts";

const repoRoot = join(import.meta.dirname, "..", "..");
const pkg = JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")) as {
  version: string;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};
const lock = JSON.parse(readFileSync(join(repoRoot, "package-lock.json"), "utf8")) as {
  packages: Record<string, { dev?: boolean }>;
};
const admin = adminConfig();
const guide = join(repoRoot, "examples", "getting-started");
/** What the operator passes as scaleTargetRef, so a config needs nothing else to be valid. */
const TARGET = '{"apiVersion":"apps/v1","kind":"Deployment","name":"hello-kubernetes"}';
/** As the operator's Deployment runs it: uid 65532, and no writable root filesystem (Kubernetes mounts no tmpfs). */
const AS_DEPLOYED = ["--network=host", "--user=65532:65532", "--read-only", "--read-only-tmpfs=false"];

async function run(
  image: string,
  ...args: string[]
): Promise<{ code: number; stdout: string; stderr: string }> {
  return podman(
    "run",
    "--rm",
    ...AS_DEPLOYED,
    ...args.slice(0, args.indexOf("--")),
    image,
    ...args.slice(args.indexOf("--") + 1),
  );
}

async function ok(promise: Promise<{ code: number; stdout: string; stderr: string }>): Promise<string> {
  const res = await promise;
  assert.equal(res.code, 0, `${res.stdout}${res.stderr}`);
  return res.stdout;
}

before(async () => {
  // Both flavours: the hardened one our docs use, and the drop-in one (docs/image.md).
  await ensureImages(TARGETS.map((t) => t.target));
});

describe("the image's build", () => {
  test("every stage starts from NODE_IMAGE, whose default is the official image of the Node the project pins", () => {
    const dockerfile = readFileSync(join(repoRoot, "Dockerfile"), "utf8");
    assert.match(
      dockerfile,
      new RegExp(
        `^ARG NODE_IMAGE=node:${(pkg.devDependencies["node"] ?? "").replaceAll(".", "\\.")}-trixie-slim$`,
        "m",
      ),
    );
    const froms = [...dockerfile.matchAll(/^FROM (?:--platform=(\S+) )?(\S+) AS (\S+)$/gm)].map(
      ([, platform, from = "", name = ""]) => ({ platform, from, name }),
    );
    assert.deepEqual(
      froms.map((f) => f.name),
      [
        "deps",
        "compile",
        "spawn-helper",
        "build",
        "base",
        "python",
        "dropin",
        "runtime-dropin",
        "python-dropin",
        "runtime",
      ],
    );
    for (const { from } of froms)
      assert.ok(
        ["${NODE_IMAGE}", "${BUILD_NODE_IMAGE}"].includes(from) || froms.some((f) => f.name === from),
        from,
      );
    // Multi-arch: the npm and tsc stages on the builder's platform; the native spawn helper and
    // everything from base on, the target's own.
    assert.deepEqual(
      froms.filter((f) => f.platform !== undefined).map((f) => `${f.name} ${f.platform ?? ""} ${f.from}`),
      [
        "deps $BUILDPLATFORM ${BUILD_NODE_IMAGE}",
        "compile $BUILDPLATFORM ${BUILD_NODE_IMAGE}",
        "spawn-helper $TARGETPLATFORM ${NODE_IMAGE}",
        "build $BUILDPLATFORM ${BUILD_NODE_IMAGE}",
        "base $TARGETPLATFORM ${NODE_IMAGE}",
      ],
    );
    assert.match(dockerfile, /^ARG BUILD_NODE_IMAGE=\$\{NODE_IMAGE\}$/m);
  });

  test("the images run tini -- cpa autoscaler from /app as 65532:65532, and say their version", async () => {
    for (const image of [RUNTIME_IMAGE, PYTHON_IMAGE]) {
      const [config] = JSON.parse(await ok(podman("image", "inspect", image))) as {
        Config: {
          Entrypoint: string[];
          Cmd: string[];
          WorkingDir: string;
          User: string;
          Labels: Record<string, string>;
        };
      }[];
      assert.ok(config);
      assert.deepEqual(config.Config.Entrypoint, ["tini", "--", "cpa"]);
      assert.deepEqual(config.Config.Cmd, ["autoscaler"]);
      assert.equal(config.Config.WorkingDir, "/app");
      assert.equal(config.Config.User, "65532:65532");
      assert.equal(config.Config.Labels["org.opencontainers.image.version"], pkg.version);
    }
  });

  test("the drop-in flavour runs /app/custom-pod-autoscaler from /app as root, with no ENTRYPOINT before a template's command", async () => {
    for (const image of [RUNTIME_DROPIN_IMAGE, PYTHON_DROPIN_IMAGE]) {
      const [config] = JSON.parse(await ok(podman("image", "inspect", image))) as {
        Config: { Entrypoint?: string[] | null; Cmd: string[]; WorkingDir: string; User: string };
      }[];
      assert.ok(config);
      assert.deepEqual(config.Config.Entrypoint ?? [], []);
      assert.deepEqual(config.Config.Cmd, ["/app/custom-pod-autoscaler"]);
      assert.equal(config.Config.WorkingDir, "/app");
      assert.equal(config.Config.User, "root");
    }
    // Under its CMD it is our autoscaler: with no config file it says so, by name.
    const res = await podman("run", "--rm", "--network=none", RUNTIME_DROPIN_IMAGE);
    assert.notEqual(res.code, 0);
    assert.match(res.stderr, /config file \/config\.yaml does not exist/);
    // python, python3 and pip, as the original's python image had them; writable /app and /.
    const tools = await ok(
      podman(
        "run",
        "--rm",
        "--network=none",
        PYTHON_DROPIN_IMAGE,
        "sh",
        "-c",
        "python --version && python3 --version && pip --version && touch /app/x /x && echo ok",
      ),
    );
    assert.match(tools, /^ok$/m);
  });

  test("the hardened flavour's / and /app are not writable: the drop-in flavour is what root-writing scripts need", async () => {
    const res = await podman(
      "run",
      "--rm",
      "--network=none",
      '--entrypoint=["sh","-c","touch /app/x"]',
      PYTHON_IMAGE,
    );
    assert.notEqual(res.code, 0);
    assert.match(res.stderr, /Permission denied/);
  });

  test("the build leaves no buildah working container of the images behind to pin old builds", async () => {
    const containers = JSON.parse(await ok(tool("buildah", ["containers", "--json"]))) as
      { imagename: string }[] | null;
    const ours = TARGETS.map((t) => t.tag).flatMap((tag) => [`localhost/${tag}`, fullImageName(tag)]);
    assert.deepEqual(
      (containers ?? []).filter((c) => ours.includes(c.imagename)),
      [],
    );
  });
});

describe("the image's files", () => {
  let root = "";
  before(async () => {
    root = (await ok(podman("image", "mount", RUNTIME_IMAGE))).trim();
  });
  after(async () => {
    await podman("image", "unmount", RUNTIME_IMAGE);
  });
  const app = (...path: string[]): string => join(root, "opt", "cpa", ...path);
  const files = (dir: string): string[] =>
    readdirSync(dir, { recursive: true, encoding: "utf8" })
      .filter((rel) => statSync(join(dir, rel)).isFile())
      .sort();

  test("node_modules holds exactly the lockfile's production packages, less the type-only @types", () => {
    const modules = Object.entries(lock.packages).filter(([path]) => path.startsWith("node_modules/"));
    const wrong = modules
      .filter(
        ([path, entry]) =>
          existsSync(app(path)) === (entry.dev === true || path.startsWith("node_modules/@types/")),
      )
      .map(([path, entry]) => `${path} (${entry.dev ? "dev" : "production"})`);
    assert.deepEqual(wrong, []);
    // So bin/cpa runs on the image's node, not a pinned one from node_modules.
    assert.equal(existsSync(app("node_modules", ".bin", "node")), false);
    for (const dep of Object.keys(pkg.dependencies))
      assert.ok(existsSync(app("node_modules", dep, "package.json")), dep);
  });

  test("nothing in node_modules that no command loads: no TypeScript sources, declarations or source maps", () => {
    const unloaded = files(app("node_modules")).filter((f) => /\.(m|c)?ts$|\.map$/.test(f));
    assert.deepEqual(unloaded.slice(0, 5), []);
  });

  test("ships the launcher, the bundle (one file per command and the chunks they share) and the package files, and nothing else", () => {
    assert.deepEqual(readdirSync(app()).sort(), [
      "bin",
      "dist",
      "node_modules",
      "package-lock.json",
      "package.json",
    ]);
    const commands = [
      "autoscaler.js",
      "main.js",
      "operator.js",
      "record.js",
      "replay.js",
      "run.js",
      "validate.js",
    ];
    const dist = files(app("dist"));
    const bundle = dist.filter((f) => f.startsWith("bundle/"));
    assert.deepEqual(
      dist.filter((f) => !/^bundle\/chunk-[A-Z0-9]+\.js$/.test(f)),
      [...commands.map((c) => `bundle/${c}`), "libexec/cpa-spawn-helper"],
    );
    // The bundle carries its dependencies: nothing it loads resolves from node_modules but client-node
    // (and the chart libraries `cpa replay --out` loads by a name it computes, which the image leaves out).
    for (const f of bundle) {
      const text = readFileSync(app("dist", f), "utf8");
      const specifiers = [...text.matchAll(/(?:from|import\()\s*"([^"]+)"/g)].map((m) => m[1] ?? "");
      const bare = specifiers.filter((s) => !s.startsWith("./") && !isBuiltin(s));
      assert.deepEqual(
        [...new Set(bare)].filter((s) => s !== "@kubernetes/client-node"),
        [],
        f,
      );
    }
    assert.deepEqual(files(app("bin")), files(join(repoRoot, "bin")));
  });

  test("no build-time npm configuration or CA bundle is left in the image", () => {
    assert.deepEqual(readdirSync(join(root, "usr", "local", "etc")), []);
  });
});

describe("the image's commands, as uid 65532 on a read-only root filesystem", () => {
  test("`cpa --version` and `cpa --help`", async () => {
    assert.equal(await ok(run(RUNTIME_IMAGE, "--", "--version")), `cpa ${pkg.version}\n`);
    assert.match(await ok(run(RUNTIME_IMAGE, "--", "--help")), /^Usage: cpa <command>/m);
  });

  test("`cpa validate` accepts the getting-started guide's config, in the python image the guide builds on", async () => {
    const out = await ok(
      run(
        PYTHON_IMAGE,
        `--volume=${join(guide, "config.yaml")}:/config.yaml:ro`,
        `--env=scaleTargetRef=${TARGET}`,
        "--",
        "validate",
        "/config.yaml",
      ),
    );
    assert.match(out, /is valid/);
  });

  test("the default command, `cpa autoscaler`, reads /config.yaml and names what is wrong with it", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cpa-image-config-"));
    writeFileSync(
      join(dir, "config.yaml"),
      "evaluate:\n  type: shell\n  shell:\n    entrypoint: sh\n    command: [x]\n",
    );
    chmodSync(dir, 0o755);
    const res = await run(
      RUNTIME_IMAGE,
      `--volume=${join(dir, "config.yaml")}:/config.yaml:ro`,
      `--env=scaleTargetRef=${TARGET}`,
      "--",
    );
    rmSync(dir, { recursive: true, force: true });
    assert.notEqual(res.code, 0);
    assert.match(res.stderr, /^ {2}- metric: required/m);
  });

  test("`cpa replay` in the image: the summary and text chart; a chart file says the image leaves its libraries out", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cpa-image-replay-"));
    writeFileSync(
      join(dir, "config.yaml"),
      [
        "runMode: per-resource",
        "metric: {type: shell, shell: {entrypoint: /bin/true}}",
        "evaluate: {type: shell, shell: {entrypoint: /bin/sh, command: ['-c', 'echo {\\\"targetReplicas\\\": 2}']}}",
        "",
      ].join("\n"),
    );
    writeFileSync(join(dir, "load.csv"), "time,queue\n0,5\n60,9\n120,1\n");
    chmodSync(dir, 0o755);
    const args = [
      `--volume=${dir}:/w:ro`,
      "--",
      "replay",
      "--config",
      "/w/config.yaml",
      "--csv",
      "/w/load.csv",
    ];
    const text = await ok(run(RUNTIME_IMAGE, ...args));
    assert.match(text, /^Replayed 3 runs of Deployment\/target in default/m);
    assert.match(text, /█ replayed/);
    const chart = await run(RUNTIME_IMAGE, ...args, "--out", "/tmp/chart.png");
    rmSync(dir, { recursive: true, force: true });
    assert.equal(chart.code, 1);
    assert.match(chart.stderr, /The image leaves the chart libraries out/);
    assert.doesNotMatch(chart.stderr, /^\s+at /m, "no stack trace");
  });

  test("the python image has python3 and python", async () => {
    for (const command of ["python3", "python"])
      assert.match(
        await ok(run(PYTHON_IMAGE, `--entrypoint=["${command}"]`, "--", "--version")),
        /^Python 3\.\d+/,
      );
  });
});

/**
 * The operator Deployment's Pod, as the apiserver has it after the namespaced
 * install (docs/operator.md): the bundle applied in `namespace`, a RoleBinding
 * into `watched`, and WATCH_NAMESPACE set to it.
 */
async function operatorPod(namespace: string, watched: string): Promise<V1Pod> {
  const steps = [
    ["apply", "-n", namespace, "-f", join(repoRoot, "config", "namespaced.yaml")],
    ...bindNamespacedOperator(namespace, watched),
  ];
  for (const args of steps) {
    const res = await kubectl(args);
    assert.equal(res.code, 0, res.stderr);
  }
  const deployment = await admin
    .makeApiClient(AppsV1Api)
    .readNamespacedDeployment({ name: "cpa-operator", namespace });
  assert.ok(deployment.spec);
  return {
    metadata: { name: `cpa-operator-${randomUUID().slice(0, 5)}`, namespace, uid: randomUUID() },
    spec: deployment.spec.template.spec ?? { containers: [] },
  };
}

describe("the operator container, as its Deployment runs it, against the control plane", () => {
  test("reads its ServiceAccount token as uid 65532, under tini, with nothing writable, and stops on SIGTERM", async (t) => {
    const namespace = await testNamespace(t);
    const pod = await operatorPod(namespace, await testNamespace(t));
    const operator: LocalProcess = await runPodInContainer(pod, admin);
    t.after(() => operator.stop("SIGKILL"));
    await eventually(
      "the operator container to be ready",
      async () => {
        if (operator.child.exitCode !== null) throw new Error(`it exited:\n${operator.output()}`);
        return (await fetch("http://127.0.0.1:8080/readyz").catch(() => undefined))?.ok ? true : undefined;
      },
      60_000,
    );
    // Its caches synced with the watched namespace's RoleBinding: the token worked. And it leads, under its Pod's name.
    const lease = await eventually("the operator to take the Lease", async () => {
      const l = await admin
        .makeApiClient(CoordinationV1Api)
        .readNamespacedLease({ name: "cpa-operator", namespace });
      return l.spec?.holderIdentity ? l : undefined;
    });
    assert.match(lease.spec?.holderIdentity ?? "", new RegExp(`^${pod.metadata?.name ?? ""}_`));

    const name = await containerOf(pod.metadata?.uid ?? "");
    assert.ok(name, "no container carries the Pod's uid");
    const exec = (script: string) => podman("exec", name, "sh", "-c", script);
    assert.equal((await exec("id -u; id -g")).stdout, "65532\n65532\n");
    assert.equal((await exec("cat /proc/1/comm")).stdout, "tini\n");
    for (const path of ["/opt/cpa/x", "/tmp/x", "/app/x"]) {
      const touch = await exec(`touch ${path}`);
      assert.notEqual(touch.code, 0, `${path} is writable`);
      assert.match(touch.stderr, /Read-only file system/);
    }
    const mode = await exec("stat -c '%a %u' /var/run/secrets/kubernetes.io/serviceaccount/token");
    assert.equal(mode.stdout, "644 0\n");

    // The kubelet's stop: SIGTERM to PID 1 (tini, which forwards it), SIGKILL only after the grace period.
    const code = await operator.stop();
    assert.equal(
      code,
      0,
      `exit ${String(code)} (137 is SIGKILL: the grace period ran out):\n${operator.output().slice(-2000)}`,
    );
  });
});

describe("tini as PID 1", () => {
  /** A script that leaves an orphan: the subshell exits at once, so its child is reparented to PID 1. */
  const metric = [
    "#!/bin/sh",
    "( sh -c 'echo $$ > /work/orphan.tmp && mv /work/orphan.tmp /work/orphan.pid' & )",
    "echo 1",
    "",
  ].join("\n");
  const config = [
    "metric:",
    "  type: shell",
    "  shell: { entrypoint: /bin/sh, command: [/work/metric.sh] }",
    "evaluate:",
    "  type: shell",
    `  shell: { entrypoint: /bin/sh, command: ["-c", "echo '{\\"targetReplicas\\": 1}'"] }`,
    "runMode: per-resource",
    "interval: 1000",
    "",
  ].join("\n");

  /** `cpa run --dry-run` in the runtime image against the guide's Deployment, with `metric` as /work/metric.sh. */
  function cpaRun(
    t: { after: (fn: () => Promise<unknown>) => void },
    namespace: string,
    entrypoint: string[],
    script: string,
  ): { work: string; name: string } {
    const work = mkdtempSync(join(tmpdir(), "cpa-run-"));
    chmodSync(work, 0o777);
    writeFileSync(join(work, "metric.sh"), script, { mode: 0o755 });
    writeFileSync(join(work, "config.yaml"), config, { mode: 0o644 });
    copyFileSync(kubeconfigPath(), join(work, "kubeconfig"));
    chmodSync(join(work, "kubeconfig"), 0o644);
    const name = `cpa-run-${randomUUID().slice(0, 8)}`;
    const started = podman(
      "run",
      "--rm",
      `--name=${name}`,
      ...AS_DEPLOYED,
      `--volume=${work}:/work`,
      `--entrypoint=${JSON.stringify(entrypoint)}`,
      RUNTIME_IMAGE,
      "run",
      "--config=/work/config.yaml",
      "--target=deployment/hello-kubernetes",
      `--namespace=${namespace}`,
      "--kubeconfig=/work/kubeconfig",
      "--dry-run",
    );
    t.after(async () => {
      await podman("rm", "--force", "--time=0", name);
      await started;
      rmSync(work, { recursive: true, force: true });
    });
    return { work, name };
  }

  /** Runs `cpa run` against the guide's Deployment with the script above; returns the orphan's state once it exited, or undefined once reaped. */
  async function orphan(
    t: { after: (fn: () => Promise<unknown>) => void },
    namespace: string,
    entrypoint: string[],
  ) {
    const { work, name } = cpaRun(t, namespace, entrypoint, metric);
    const pid = await eventually(
      "the script's orphan to write its pid",
      () => {
        const file = join(work, "orphan.pid");
        return existsSync(file) ? readFileSync(file, "utf8").trim() : undefined;
      },
      60_000,
    );
    const state = async () => {
      const res = await podman("exec", name, "sh", "-c", `cat /proc/${pid}/stat 2>/dev/null || echo gone`);
      if (res.code !== 0) throw new Error(`podman exec: ${res.stderr}`);
      return res.stdout.trim() === "gone" ? "gone" : (/^\d+ \(.*\) (\S)/.exec(res.stdout)?.[1] ?? res.stdout);
    };
    return state;
  }

  test("tini reaps the orphan a script leaves; cpa as PID 1 would leave it a zombie", async (t) => {
    const namespace = await testNamespace(t);
    assert.equal((await kubectl(["apply", "-n", namespace, "-f", join(guide, "deployment.yaml")])).code, 0);
    const withTini = await orphan(t, namespace, ["tini", "--", "cpa"]);
    await eventually(
      "tini to reap the orphan",
      async () => ((await withTini()) === "gone" ? true : undefined),
      30_000,
    );
    // The same without tini: the orphan exits and stays a zombie, since nothing reaps it.
    const withoutTini = await orphan(t, namespace, ["cpa"]);
    await eventually(
      "the orphan to be a zombie under cpa as PID 1",
      async () => ((await withoutTini()) === "Z" ? true : undefined),
      30_000,
    );
  });

  test("shell stages start through the native spawn helper the image ships, not Perl's", async (t) => {
    const namespace = await testNamespace(t);
    assert.equal((await kubectl(["apply", "-n", namespace, "-f", join(guide, "deployment.yaml")])).code, 0);
    const script = [
      "#!/bin/sh",
      "readlink /proc/$PPID/exe > /work/parent.tmp && mv /work/parent.tmp /work/parent",
      "echo 1",
      "",
    ].join("\n");
    const { work } = cpaRun(t, namespace, ["tini", "--", "cpa"], script);
    const parent = await eventually(
      "the metric script to write its parent's program",
      () => {
        const file = join(work, "parent");
        return existsSync(file) ? readFileSync(file, "utf8").trim() : undefined;
      },
      60_000,
    );
    assert.equal(parent, "/opt/cpa/dist/libexec/cpa-spawn-helper");
  });
});
