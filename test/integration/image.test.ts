// The image, checked without Docker: hack/image.ts replays the Dockerfile's own
// build steps (its npm commands, its COPY layout, its ENTRYPOINT and CMD) into a
// directory, and these tests run the image's entrypoint from there. No cluster is
// needed; this lives here because it runs `npm ci`. CPA_KEEP_IMAGE=1 keeps the
// built directory for a look around.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, test } from "node:test";
import { parseAllDocuments } from "yaml";
import {
  buildImage,
  hostPath,
  parseDockerfile,
  pinnedNodeBinDir,
  which,
  type ImageBuild,
} from "../../hack/image.ts";

const repoRoot = join(import.meta.dirname, "..", "..");
const pkg = JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")) as {
  version: string;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};
const lock = JSON.parse(readFileSync(join(repoRoot, "package-lock.json"), "utf8")) as {
  packages: Record<string, { dev?: boolean }>;
};

interface OperatorDeployment {
  spec: {
    template: {
      spec: {
        securityContext: { runAsUser: number; runAsGroup: number };
        containers: { name: string; image: string; args: string[] }[];
      };
    };
  };
}

const operatorDeployment = parseAllDocuments(readFileSync(join(repoRoot, "config", "cluster.yaml"), "utf8"))
  .map((doc) => doc.toJS() as { kind?: string } | null)
  .find((obj) => obj?.kind === "Deployment") as OperatorDeployment;
const operatorPod = operatorDeployment.spec.template.spec;
const operatorContainer = operatorPod.containers[0];

/** What the operator passes as scaleTargetRef, so a config needs nothing else to be valid. */
const TARGET_ENV = {
  scaleTargetRef: '{"apiVersion":"apps/v1","kind":"Deployment","name":"hello-kubernetes"}',
};

const shellMethod = (script: string): string =>
  `  type: shell\n  timeout: 2500\n  shell:\n    entrypoint: python\n    command: ["${script}"]\n`;

/** Every file and directory under a root, with size and mtime: to see whether anything wrote there. */
function listing(root: string): string[] {
  return readdirSync(root, { recursive: true, encoding: "utf8" })
    .map((rel) => {
      const st = statSync(join(root, rel));
      return `${rel} ${st.size} ${st.mtimeMs}`;
    })
    .sort();
}

const sourceFiles = (dir: string): string[] =>
  readdirSync(dir, { recursive: true, encoding: "utf8" })
    .filter((rel) => statSync(join(dir, rel)).isFile() && !rel.endsWith(".test.ts"))
    .sort();

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

describe("the image, built from the Dockerfile without Docker", () => {
  let image: ImageBuild;
  let built = false;
  let app: string;
  let before_: string[];
  const files = mkdtempSync(join(tmpdir(), "cpa-image-files-"));

  before(async () => {
    image = await buildImage();
    built = true;
    const cpa = which(image, "cpa");
    assert.ok(cpa, `cpa is not on the image's PATH (${image.env["PATH"] ?? "unset"})`);
    app = dirname(dirname(cpa));
    before_ = listing(image.rootfs);
  });
  after(() => {
    rmSync(files, { recursive: true, force: true });
    // image is unset if the build failed (buildImage removes its own directory then).
    if (process.env["CPA_KEEP_IMAGE"] !== "1" && built) rmSync(image.dir, { recursive: true, force: true });
  });

  /** Runs argv as the container would: from WORKDIR, with the image's env and commands resolved on its PATH. */
  function run(argv: string[], env: Record<string, string> = {}): Promise<Result> {
    let [command = "", ...args] = argv;
    // tini comes from apt-get, a RUN step the replay skips, so the rootfs has no tini.
    // Run what tini would exec; signal forwarding and reaping are Docker-only here.
    if (command === "tini" && which(image, "tini") === undefined) {
      assert.equal(args[0], "--");
      [command = "", ...args] = args.slice(1);
    }
    const exe = which(image, command);
    assert.ok(exe, `${command} is not on the image's PATH`);
    const child = spawn(exe, args, {
      cwd: hostPath(image, image.workdir),
      env: {
        ...image.env,
        // The pinned Node stands in for the base image's /usr/local/bin/node (same version: see below).
        PATH: [pinnedNodeBinDir(), "/usr/bin", "/bin"].join(":"),
        HOME: files,
        ...env,
      },
      stdio: ["ignore", "pipe", "pipe"],
      timeout: 60_000,
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    return new Promise((resolve, reject) => {
      child.on("error", reject);
      child.on("close", (code) => {
        resolve({ code, stdout, stderr });
      });
    });
  }

  test("every stage starts from the Node the project pins, so npm and the app run on that version", () => {
    const file = parseDockerfile(readFileSync(join(repoRoot, "Dockerfile"), "utf8"));
    const names = file.stages.map((s) => s.name);
    const external = file.stages.filter((s) => !names.includes(s.from)).map((s) => s.from);
    assert.deepEqual([...new Set(external)], [image.baseImage]);
    const pinned = pkg.devDependencies["node"] ?? "";
    assert.match(image.baseImage, new RegExp(`^node:${pinned.replaceAll(".", "\\.")}-(\\w+-)?slim$`));
  });

  test("node_modules holds exactly the lockfile's production packages", () => {
    const modules = Object.entries(lock.packages).filter(([path]) => path.startsWith("node_modules/"));
    const wrong = modules
      .filter(([path, entry]) => existsSync(join(app, path)) === (entry.dev === true))
      .map(([path, entry]) => `${path} (${entry.dev ? "dev, installed" : "production, missing"})`);
    assert.deepEqual(wrong, []);
    for (const dev of ["typescript", "eslint", "prettier", "node"])
      assert.equal(existsSync(join(app, "node_modules", dev)), false, `${dev} is shipped`);
    // So bin/cpa runs on the image's node, not a pinned one from node_modules.
    assert.equal(existsSync(join(app, "node_modules", ".bin", "node")), false);
    for (const dep of Object.keys(pkg.dependencies))
      assert.ok(existsSync(join(app, "node_modules", dep, "package.json")), `${dep} is missing`);
  });

  test("ships every source file but no test, and nothing else", () => {
    assert.deepEqual(readdirSync(app).sort(), [
      "bin",
      "node_modules",
      "package-lock.json",
      "package.json",
      "src",
    ]);
    assert.deepEqual(
      readdirSync(join(app, "src"), { recursive: true, encoding: "utf8" }).filter((f) =>
        f.endsWith(".test.ts"),
      ),
      [],
    );
    assert.deepEqual(sourceFiles(join(app, "src")), sourceFiles(join(repoRoot, "src")));
    assert.deepEqual(sourceFiles(join(app, "bin")), sourceFiles(join(repoRoot, "bin")));
  });

  test("runs tini then cpa autoscaler, from /app, as the operator Deployment's non-root user", () => {
    assert.deepEqual(image.entrypoint, ["tini", "--", "cpa"]);
    assert.deepEqual(image.cmd, ["autoscaler"]);
    assert.equal(image.workdir, "/app");
    assert.equal(
      image.user,
      `${operatorPod.securityContext.runAsUser}:${operatorPod.securityContext.runAsGroup}`,
    );
    assert.equal(operatorContainer?.image, `cpa:${pkg.version}`);
    assert.equal(image.labels["org.opencontainers.image.version"], pkg.version);
    // What only Docker can do is at least in the skipped steps: tini, and the user.
    const skipped = image.skipped.map((s) => s.instruction).join("\n");
    assert.match(skipped, /apt-get install [^&]*\btini\b/);
    assert.match(skipped, new RegExp(`useradd [^&]*--uid ${operatorPod.securityContext.runAsUser}\\b`));
  });

  test("the python target adds python3 and a python command on top of the same image", () => {
    const file = parseDockerfile(readFileSync(join(repoRoot, "Dockerfile"), "utf8"));
    const stage = (name: string) => file.stages.find((s) => s.name === name);
    const python = stage("python");
    assert.ok(python, "no python stage");
    assert.equal(python.from, stage(image.target)?.from, "python and the default image differ below");
    const runs = python.instructions.filter((i) => i.keyword === "RUN").map((i) => i.args);
    assert.match(runs.join("\n"), /apt-get install [^&]*\bpython3\b[^&]*\bpython-is-python3\b/);
    assert.equal(python.instructions.findLast((i) => i.keyword === "USER")?.args, image.user);
  });

  test("`cpa --version` prints the package's version", async () => {
    const res = await run([...image.entrypoint, "--version"]);
    assert.equal(res.code, 0, res.stderr);
    assert.equal(res.stdout, `cpa ${pkg.version}\n`);
  });

  test("`cpa validate` accepts the getting-started config", async () => {
    const config = join(files, "config.yaml");
    writeFileSync(
      config,
      `evaluate:\n${shellMethod("/evaluate.py")}metric:\n${shellMethod("/metric.py")}runMode: per-resource\n`,
    );
    const res = await run([...image.entrypoint, "validate", config], TARGET_ENV);
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /is valid/);
  });

  test("the default command, `cpa autoscaler`, refuses a config without metric and names it", async () => {
    const config = join(files, "no-metric.yaml");
    writeFileSync(config, `evaluate:\n${shellMethod("/evaluate.py")}runMode: per-resource\n`);
    // The image's argv untouched; configPath stands in for the user's /config.yaml.
    const res = await run(image.argv, { ...TARGET_ENV, configPath: config });
    assert.notEqual(res.code, 0);
    assert.match(res.stderr, /^ {2}- metric: required/m);
  });

  test("the operator Deployment's args are a command the image runs", async () => {
    const res = await run([...image.entrypoint, ...(operatorContainer?.args ?? []), "--help"]);
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /^Usage: cpa operator/);
  });

  test("nothing was written into the image's files (readOnlyRootFilesystem)", () => {
    assert.deepEqual(listing(image.rootfs), before_);
  });
});
