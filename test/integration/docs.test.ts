// The documentation's commands, run as written (test/support/doc-shell.ts) on
// the real control plane: each example's README from its folder, the guide's
// `cpa run`, the operator page's installs, operator runs, pausing and overlay,
// and the pages' other kubectl lines. Where the docs show what a command prints,
// the test compares. Commands that cannot run here are listed, with the reason,
// in hack/doc-commands-not-run.ts; the migration steps are in migration.test.ts.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { before, describe, test, type TestContext } from "node:test";
import { AppsV1Api } from "@kubernetes/client-node";
import { parse } from "yaml";
import { ContainerRunner } from "../../hack/local-pods/container-runner.ts";
import { GROUP, PLURAL } from "../../src/api/names.ts";
import { STAGE_KEYS } from "../../src/autoscaler/config.ts";
import { DocShell, namespacedKubeconfig, wordsIn } from "../support/doc-shell.ts";
import { ensureImages, podman } from "../support/images.ts";
import { adminConfig, eventually, kubectl, testNamespace } from "../support/kube.ts";
import { cleanupOf, repoFile, runCpa } from "../support/processes.ts";

const apps = adminConfig().makeApiClient(AppsV1Api);
const CRD_NAME = `${PLURAL}.${GROUP}`;
const images = new ContainerRunner();
const read = (...path: string[]): string => readFileSync(repoFile(...path), "utf8");

/**
 * The bundle's operator Deployment would get Pods on the fake node that run
 * nothing and stand in the way of the end-to-end test's real one: no replicas,
 * as the other suites leave it (operators run here as bin/cpa, or startOperator).
 */
async function noOperatorReplicas(): Promise<void> {
  const res = await kubectl(["scale", "deployment/cpa-operator", "-n", "cpa-system", "--replicas=0"]);
  assert.equal(res.code, 0, res.stderr);
}

before(async () => {
  await ensureImages();
  const res = await kubectl(["apply", "-f", repoFile("config", "cluster.yaml")]);
  assert.equal(res.code, 0, res.stderr);
  await noOperatorReplicas();
  await kubectl(["wait", "--for=condition=Established", `crd/${CRD_NAME}`]);
});

/** The docs say a command prints `line`; so does the command. */
function assertPrints(page: string, output: string, line: string): void {
  assert.ok(read(page).includes(line), `${page} no longer says "${line}"`);
  assert.ok(output.includes(line), `expected "${line}" (as ${page} says) in:\n${output}`);
}

/** A kubeconfig the image's user (65532) can read, with everything inline. */
async function readableKubeconfig(namespace: string): Promise<string> {
  const res = await kubectl(["config", "view", "--raw", "--flatten", "--minify"]);
  assert.equal(res.code, 0, res.stderr);
  const dir = mkdtempSync(join(tmpdir(), "cpa-doc-image-kc-"));
  writeFileSync(join(dir, "full"), res.stdout);
  const file = namespacedKubeconfig(namespace, join(dir, "full"));
  chmodSync(file, 0o644);
  return file;
}

/** `cpa run` inside an example's built image, against the cluster: the image holds what the config needs. */
async function runInImage(image: string, namespace: string, extra: string[] = []): Promise<string> {
  const kubeconfig = await readableKubeconfig(namespace);
  const res = await podman(
    "run",
    "--rm",
    "--network=host",
    `--volume=${kubeconfig}:/kubeconfig:ro`,
    ...extra,
    image,
    "run",
    "--kubeconfig=/kubeconfig",
    "--config=/app/config.yaml",
    "--target=deployment/web",
    "--once",
    "--dry-run",
  );
  assert.equal(res.code, 0, `cpa run in ${image}:\n${res.stderr}${res.stdout}`);
  return res.stdout;
}

async function exampleShell(t: TestContext): Promise<{ sh: DocShell; namespace: string }> {
  const namespace = await testNamespace(t);
  return { sh: DocShell.of(t, { namespace }), namespace };
}

describe("examples, as their READMEs say", () => {
  test("per-pod: try it, build its image, ship it", async (t) => {
    const { sh, namespace } = await exampleShell(t);
    await sh.run("cd examples/per-pod");
    await sh.run("kubectl apply -f web.yaml");
    await sh.run("kubectl rollout status deployment/web");
    const run = await sh.run(
      "TARGET_LOAD=50 ../../bin/cpa run --config config.yaml --target deployment/web --once --dry-run",
    );
    const expected = "=> current 2, evaluated 3, desired 3: would scale (scale from 2 to 3)";
    assertPrints("examples/per-pod/README.md", run.stdout, expected);
    // `docker build -t per-pod-autoscaler:latest .`, with buildah.
    await images.build("per-pod-autoscaler:latest", sh.cwd);
    // The image as cpa.yaml runs it (TARGET_LOAD from spec.config): the same decision.
    assert.ok(
      (await runInImage("per-pod-autoscaler:latest", namespace, ["--env=TARGET_LOAD=50"])).includes(expected),
    );
    await sh.run("kubectl apply -f cpa.yaml");
    await sh.run("kubectl delete -f cpa.yaml -f web.yaml");
  });

  test("module: try it, build its image, ship it", async (t) => {
    const { sh, namespace } = await exampleShell(t);
    await sh.run("cd examples/module");
    await sh.run("kubectl apply -f web.yaml");
    const run = await sh.run(
      "../../bin/cpa run --config config.yaml --target deployment/web --once --dry-run",
    );
    const expected = "=> current 1, evaluated 3, desired 3: would scale (scale from 1 to 3)";
    assertPrints("examples/module/README.md", run.stdout, expected);
    await images.build("module-autoscaler:latest", sh.cwd);
    // The runtime in the image loads scaler.ts from /app, with no package.json beside it.
    assert.ok((await runInImage("module-autoscaler:latest", namespace)).includes(expected));
    await sh.run("kubectl apply -f cpa.yaml");
    await sh.run("kubectl delete -f cpa.yaml -f web.yaml");
  });

  test("http: the service in one terminal, cpa run in another; the image holds both", async (t) => {
    const { namespace } = await exampleShell(t);
    const serverTerminal = DocShell.of(t, { namespace });
    await serverTerminal.run("cd examples/http");
    const server = await serverTerminal.start("python3 server.py", async () => {
      const res = await fetch("http://127.0.0.1:8000/", { method: "POST", body: "{}" }).catch(
        () => undefined,
      );
      return res !== undefined;
    });
    const sh = DocShell.of(t, { namespace });
    await sh.run("cd examples/http");
    await sh.run("kubectl apply -f web.yaml");
    const run = await sh.run(
      "../../bin/cpa run --config config.yaml --target deployment/web --once --dry-run",
    );
    const expected = "=> current 1, evaluated 3, desired 3: would scale (scale from 1 to 3)";
    assertPrints("examples/http/README.md", run.stdout, expected);
    await server.stop();

    await images.build("http-autoscaler:latest", sh.cwd);
    // cpa.yaml's second container: the service, from the same image.
    const name = `cpa-doc-http-${namespace}`;
    const started = await podman(
      "run",
      "--detach",
      "--rm",
      "--network=host",
      `--name=${name}`,
      "--entrypoint=python3",
      "http-autoscaler:latest",
      "/app/server.py",
    );
    assert.equal(started.code, 0, started.stderr);
    t.after(async () => {
      await podman("rm", "--force", name);
    });
    await eventually("the service container on :8000", async () =>
      (await fetch("http://127.0.0.1:8000/", { method: "POST", body: "{}" }).catch(() => undefined))
        ? true
        : undefined,
    );
    assert.ok((await runInImage("http-autoscaler:latest", namespace)).includes(expected));
    await sh.run("kubectl apply -f cpa.yaml");
    await sh.run("kubectl delete -f cpa.yaml -f web.yaml");
  });

  test("getting-started: cpa run --root on the guide's config, then its image and CPA", async (t) => {
    const { sh } = await exampleShell(t);
    await sh.run("kubectl apply -f examples/getting-started/deployment.yaml");
    await sh.run("cd examples/getting-started");
    const run = await sh.run(
      "../../bin/cpa run --root . --config config.yaml --target deployment/hello-kubernetes --once --dry-run",
    );
    const expected = "=> current 1, evaluated 3, desired 3: would scale (scale from 1 to 3)";
    assertPrints("examples/getting-started/README.md", run.stdout, expected);
    assertSameShape(
      consoleOutput("docs/writing-an-autoscaler.md", "--target deployment/hello-kubernetes"),
      run.stdout,
    );
    await images.build("python-custom-autoscaler:latest", sh.cwd);
    await sh.run("kubectl apply -f cpa.yaml");
    await sh.run("kubectl label deployment hello-kubernetes numPods=5 --overwrite");
    const table = await sh.run("kubectl get cpa");
    assert.match(table.stdout, /^python-custom-autoscaler\s/m);
    await sh.run("kubectl delete -f cpa.yaml -f deployment.yaml");
  });

  test("network-policy.yaml applies as examples/README.md says", async (t) => {
    const { sh } = await exampleShell(t);
    await sh.run("kubectl apply -f examples/network-policy.yaml");
  });
});

/**
 * The output lines of a console block: the one whose `$ ` line is `command`
 * (the lines after it), or else the first one after the text `command`.
 */
function consoleOutput(page: string, command: string): string[] {
  const text = read(page);
  const prompt = text.indexOf(`$ ${command}\n`);
  const from = prompt >= 0 ? prompt : text.indexOf("```console", text.indexOf(command));
  const to = text.indexOf("```", from + 3);
  assert.ok(text.includes(command) && from >= 0 && to > from, `no console block for "${command}" in ${page}`);
  return text.slice(from, to).split("\n").slice(1);
}

/**
 * A documented `cpa run` output and a real one match line for line where they
 * can: the same headers, stages, outputs and decision, with the namespace,
 * paths, timings and lengths that differ from run to run made alike.
 */
function assertSameShape(documented: string[], real: string): void {
  const normalise = (line: string): string =>
    line
      .replace(/ in [a-z0-9-]+ \(/, " in NS (")
      .replace(/is read from \/\S+\//, "is read from DIR/")
      .replace(/\(\d+ ms\)/, "(N ms)")
      .replace(/^( {3}input: {2}).*$/, "$1…")
      .trimEnd();
  const wanted = documented.map(normalise).filter((l) => l !== "");
  const got = real
    .split("\n")
    .map(normalise)
    .filter((l) => l !== "");
  assert.deepEqual(got, wanted);
}

describe("docs/writing-an-autoscaler.md", () => {
  test("each stage's input is the one documented, and gets the keys the table says", async (t) => {
    // The inputs of one run per mode, each on its example's web Deployment.
    const moduleWeb = await exampleShell(t);
    await moduleWeb.sh.run("cd examples/module");
    await moduleWeb.sh.run("kubectl apply -f web.yaml");
    const perResource = await recordInputs(t, moduleWeb.namespace, "per-resource");
    const perPodWeb = await exampleShell(t);
    await perPodWeb.sh.run("cd examples/per-pod");
    await perPodWeb.sh.run("kubectl apply -f web.yaml");
    await perPodWeb.sh.run("kubectl rollout status deployment/web");
    const perPod = await recordInputs(t, perPodWeb.namespace, "per-pod");

    const page = read("docs", "writing-an-autoscaler.md");
    const documented = (marker: string): Record<string, unknown> => {
      const at = page.indexOf(`<!-- stage-input: ${marker} -->`);
      assert.ok(at >= 0, `no stage-input ${marker}`);
      const block = /```jsonc?\n([\s\S]*?)```/.exec(page.slice(at));
      // JSON with comments, and the trailing commas prettier gives it.
      const json = (block?.[1] ?? "").replace(/^\s*\/\/.*$/gm, "").replace(/,(\s*[}\]])/g, "$1");
      return JSON.parse(json) as Record<string, unknown>;
    };
    const cases: [string, Record<string, unknown>][] = [
      ["metric per-resource", perResource["metric"] ?? {}],
      ["metric per-pod", perPod["metric"] ?? {}],
      ["evaluate", perResource["evaluate"] ?? {}],
      ["postEvaluate", perResource["postEvaluate"] ?? {}],
      ["preScale", perResource["preScale"] ?? {}],
    ];
    for (const [marker, real] of cases) {
      const doc = documented(marker);
      assert.deepEqual(Object.keys(doc).sort(), Object.keys(real).sort(), `top-level keys of ${marker}`);
      const realPaths = new Set(paths(real, 3));
      const missing = paths(doc, 3).filter((p) => !realPaths.has(p));
      assert.deepEqual(missing, [], `${marker}: documented but not in the real input`);
    }

    // The table of which stage gets which key.
    const table = page.slice(page.indexOf("| key "), page.indexOf("\n\n", page.indexOf("| key ")));
    const [header = "", , ...rows] = table.split("\n");
    const columns = header
      .split("|")
      .slice(2, -1)
      .map((c) => c.trim().split(", "));
    for (const [stage, real] of Object.entries(perResource)) {
      const column = columns.findIndex((names) => names.includes(stage));
      const expected = rows.flatMap((row) => {
        const cells = row
          .split("|")
          .slice(1, -1)
          .map((c) => c.trim());
        const keys = [...(cells[0] ?? "").matchAll(/`(\w+)`/g)].map((m) => m[1] ?? "");
        const cell = cells[column + 1] ?? "";
        // kubernetesMetrics needs kubernetesMetricSpecs, which this config does not set.
        if (cell === "" || keys.includes("kubernetesMetrics")) return [];
        const only = /^(\w+) only$/.exec(cell);
        return only && only[1] !== stage ? [] : keys;
      });
      assert.deepEqual(Object.keys(real).sort(), expected.sort(), `the keys ${stage} gets`);
    }
  });

  test("cpa/types installs into a project of your own and types the module example", async (t) => {
    const dir = mkdtempSync(join(tmpdir(), "cpa-doc-types-"));
    symlinkSync(repoFile(), join(dir, "cpa"));
    const project = join(dir, "my-autoscaler");
    cpSync(repoFile("examples", "module", "scaler.ts"), join(project, "scaler.ts"));
    const sh = DocShell.of(t, { namespace: "default", cwd: project });
    await sh.run("npm install --save-dev ../cpa/types");
    writeFileSync(
      join(project, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          module: "nodenext",
          strict: true,
          noEmit: true,
          types: ["node"],
          typeRoots: [repoFile("node_modules", "@types")],
        },
        files: ["scaler.ts"],
      }),
    );
    const tsc = repoFile("node_modules", ".bin", "tsc");
    const typed = await runProgram(tsc, ["-p", project]);
    assert.equal(typed.code, 0, typed.output);
    // And a type error is one: the types are really there.
    writeFileSync(
      join(project, "scaler.ts"),
      `import type { Evaluation } from "cpa/types";\nexport const e: Evaluation = { targetReplicas: "3" };\n`,
    );
    const broken = await runProgram(tsc, ["-p", project]);
    assert.notEqual(broken.code, 0);
    assert.match(broken.output, /TS2322/);
    // Before an image build: production dependencies only, so the types (a dev dependency) stay out.
    await sh.run("npm ci --omit=dev");
    assert.equal(existsSync(join(project, "node_modules", "cpa")), false);
  });
});

/** Runs a program to its end: its exit code and everything it printed. */
function runProgram(program: string, args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((done) => {
    execFile(program, args, (err, stdout, stderr) => {
      done({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, output: stdout + stderr });
    });
  });
}

/** Key paths of an object to a depth (`resource.metadata.name`); list items are not descended. */
function paths(value: unknown, depth: number, prefix = ""): string[] {
  if (depth === 0 || typeof value !== "object" || value === null || Array.isArray(value)) return [];
  return Object.entries(value).flatMap(([key, child]) => {
    const path = prefix ? `${prefix}.${key}` : key;
    return [path, ...paths(child, depth - 1, path)];
  });
}

/** One real run (not dry, so the scale hooks run) with every stage recording its input. */
async function recordInputs(
  t: TestContext,
  namespace: string,
  runMode: "per-resource" | "per-pod",
): Promise<Record<string, Record<string, unknown>>> {
  const dir = mkdtempSync(join(tmpdir(), `cpa-doc-inputs-${runMode}-`));
  const stages = STAGE_KEYS;
  const record = (stage: string, then = ""): object => ({
    type: "shell",
    shell: { entrypoint: "/bin/sh", command: ["-c", `cat > ${join(dir, stage)}.json${then}`] },
  });
  const config = Object.fromEntries(
    stages.map((s) => [
      s,
      s === "metric"
        ? record(s, "; echo 12")
        : s === "evaluate"
          ? record(s, `; echo '{"targetReplicas": 3}'`)
          : record(s),
    ]),
  );
  writeFileSync(join(dir, "config.yaml"), JSON.stringify({ runMode, ...config }));
  const proc = runCpa(cleanupOf(t), [
    "run",
    `--config=${join(dir, "config.yaml")}`,
    "--target=deployment/web",
    `--namespace=${namespace}`,
    "--once",
  ]);
  assert.equal(await proc.exited, 0, proc.output());
  return Object.fromEntries(
    stages.map((s) => [
      s,
      JSON.parse(readFileSync(join(dir, `${s}.json`), "utf8")) as Record<string, unknown>,
    ]),
  );
}

/** docs/operator.md's namespaced install, as written (docs/migrating.md repeats it). */
const NAMESPACED_INSTALL = [
  "kubectl create namespace cpa-my-team",
  "kubectl apply -n cpa-my-team -f config/namespaced.yaml",
  "kubectl create rolebinding cpa-operator -n my-team --clusterrole=cpa-operator --serviceaccount=cpa-my-team:cpa-operator",
  "kubectl create clusterrolebinding cpa-my-team --clusterrole=cpa-operator-admission-policy --serviceaccount=cpa-my-team:cpa-operator",
  "kubectl set env -n cpa-my-team deployment/cpa-operator WATCH_NAMESPACE=my-team",
];

describe("docs/operator.md", () => {
  test("the namespaced install in a namespace of its own, upgraded and removed as the page says", async (t) => {
    const team = await testNamespace(t);
    const ops = `cpa-${team}`.slice(0, 63);
    t.after(async () => {
      await kubectl(["delete", "namespace", ops, "--wait=false"]);
      await kubectl(["delete", "clusterrolebinding", ops, "--ignore-not-found"]);
    });
    const sh = DocShell.of(t, { namespace: team });
    const names = { "my-team": team, "cpa-my-team": ops };
    for (const command of NAMESPACED_INSTALL) await sh.run(command, { substitute: wordsIn(command, names) });
    const deployment = await apps.readNamespacedDeployment({ name: "cpa-operator", namespace: ops });
    const env = deployment.spec?.template.spec?.containers[0]?.env ?? [];
    assert.equal(env.find((e) => e.name === "WATCH_NAMESPACE")?.value, team);
    const can = await kubectl([
      "auth",
      "can-i",
      "create",
      "pods",
      "-n",
      team,
      "--as",
      `system:serviceaccount:${ops}:cpa-operator`,
    ]);
    assert.equal(
      can.stdout.trim(),
      "yes",
      "the RoleBinding grants the operator its rights in the team's namespace",
    );
    await sh.run("kubectl apply -n cpa-my-team -f config/namespaced.yaml", {
      substitute: { "cpa-my-team": ops },
    });
    await sh.run("kubectl delete deployment cpa-operator -n cpa-my-team", {
      substitute: { "cpa-my-team": ops },
    });
  });

  test("bin/cpa operator provisions a CPA; kubectl shows, pauses, resumes and deletes it", async (t) => {
    const namespace = await testNamespace(t);
    const sh = DocShell.of(t, { namespace });
    const ready = async (): Promise<boolean> =>
      (await fetch("http://127.0.0.1:8080/readyz").catch(() => undefined))?.ok === true;
    const operator = await sh.start("bin/cpa operator --namespace my-team", ready, {
      substitute: { "my-team": namespace },
    });
    await sh.run("cd examples/module");
    await sh.run("kubectl apply -f web.yaml");
    await sh.run("kubectl apply -f cpa.yaml");
    const NAME = { NAME: "module-autoscaler" };
    await eventually("the CPA to be provisioned", async () => {
      const res = await kubectl([
        "get",
        "cpa",
        "module-autoscaler",
        "-n",
        namespace,
        "-o",
        "jsonpath={.status.conditions[?(@.type=='Provisioned')].status}",
      ]);
      return res.stdout === "True" ? true : undefined;
    });
    const wide = await sh.run("kubectl get cpa -o wide");
    const [documentedHeader] = consoleOutput("docs/operator.md", "kubectl get cpa -o wide");
    assert.equal(
      wide.stdout.split("\n")[0]?.split(/\s+/).join(" "),
      documentedHeader?.split(/\s+/).join(" "),
    );
    await sh.run("kubectl describe cpa NAME", { substitute: NAME });
    await sh.run("kubectl describe cpa");
    await sh.run("kubectl get cpa -A");
    await sh.run("kubectl annotate cpa NAME v1.custompodautoscaler.com/paused-replicas=2", {
      substitute: NAME,
    });
    await eventually("the target held at 2", async () =>
      (await apps.readNamespacedDeploymentScale({ name: "web", namespace })).spec?.replicas === 2
        ? true
        : undefined,
    );
    await sh.run("kubectl annotate cpa NAME v1.custompodautoscaler.com/paused-replicas-", {
      substitute: NAME,
    });
    await sh.run("kubectl delete cpa NAME", { substitute: NAME });
    await operator.stop();

    // The same, across all namespaces, from the repository's root: it starts and becomes ready.
    sh.chdir(".");
    const all = await sh.start("bin/cpa operator", ready);
    await all.stop();
  });

  test("the kustomize overlay of the page installs the operator from your registry", async (t) => {
    const page = read("docs", "operator.md");
    const block = /# kustomization.yaml\n([\s\S]*?)```/.exec(page);
    assert.ok(block?.[1], "no kustomization.yaml block in docs/operator.md");
    const dir = mkdtempSync(join(tmpdir(), "cpa-doc-overlay-"));
    symlinkSync(repoFile(), join(dir, "cpa")); // "../cpa/config/kustomize/cluster": a checkout beside the overlay
    const overlay = join(dir, "overlay");
    mkdirSync(overlay);
    writeFileSync(join(overlay, "kustomization.yaml"), block[1].replace(/^ {3}/gm, ""));
    const sh = DocShell.of(t, { namespace: "default", cwd: overlay });
    t.after(async () => {
      // Back to the bundle as it is, for the tests after this one.
      await DocShell.of(t, { namespace: "default" }).run("kubectl apply -f config/cluster.yaml");
      await noOperatorReplicas();
    });
    await sh.run("kubectl apply -k .");
    const deployment = await apps.readNamespacedDeployment({ name: "cpa-operator", namespace: "cpa-system" });
    const images = (parse(block[1]) as { images: { newName: string; newTag: string }[] }).images;
    assert.equal(
      deployment.spec?.template.spec?.containers[0]?.image,
      `${images[0]?.newName}:${images[0]?.newTag}`,
    );
  });

  test("mapping a custom kind for the admission policy, as the page and security.md say", async (t) => {
    const sh = DocShell.of(t, { namespace: "default" });
    t.after(async () => {
      await kubectl(["annotate", "crd", CRD_NAME, "targets.custompodautoscaler.com/Widget.example.com-"]);
    });
    await sh.run(
      "kubectl annotate crd custompodautoscalers.custompodautoscaler.com targets.custompodautoscaler.com/Widget.example.com=widgets",
    );
    const res = await kubectl(["get", "crd", CRD_NAME, "-o", "jsonpath={.metadata.annotations}"]);
    assert.match(res.stdout, /"targets.custompodautoscaler.com\/Widget.example.com":"widgets"/);
  });
});

describe("the other pages' commands", () => {
  test("docs/security.md: bind on one Role, and the policy binding is there", async (t) => {
    const { sh } = await exampleShell(t);
    await sh.run("kubectl create role bind-scaler --verb=bind --resource=roles --resource-name=my-cpa");
    await sh.run("kubectl get validatingadmissionpolicybinding cpa-requester-rights");
  });

  test("docs/configuration.md: cpa validate prints what the page shows", async (t) => {
    const dir = mkdtempSync(join(tmpdir(), "cpa-doc-validate-"));
    // A config with the page's three problems: interval from the environment, http without its block, min > max.
    writeFileSync(
      join(dir, "config.yaml"),
      "scaleTargetRef: {kind: Deployment, name: web}\nmetric:\n  type: http\nevaluate:\n  type: shell\n" +
        "  shell: {entrypoint: cat}\nminReplicas: 5\nmaxReplicas: 2\n",
    );
    const sh = DocShell.of(t, { namespace: "default", cwd: dir, env: { interval: "0" } });
    const res = await sh.run("cpa validate config.yaml", { code: 1 });
    const documented = consoleOutput("docs/configuration.md", "cpa validate config.yaml");
    assert.deepEqual(
      res.stderr.trimEnd().split("\n"),
      documented.filter((l) => l !== ""),
    );
  });

  test("docs/migrating.md: cpa validate with a CPA's spec.config as the environment", async (t) => {
    const sh = DocShell.of(t, { namespace: "default" });
    await sh.run("cd examples/getting-started");
    const res = await sh.run(
      `scaleTargetRef='{"kind":"Deployment","name":"hello-kubernetes","apiVersion":"apps/v1"}' interval=10000 ../../bin/cpa validate config.yaml`,
    );
    assert.match(res.stdout, /^interval: 10000$/m);
  });

  test("README.md: the local plane's status", async (t) => {
    const sh = DocShell.of(t, { namespace: "default" });
    await sh.run("node_modules/.bin/node hack/cluster.ts status");
  });
});
