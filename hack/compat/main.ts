// `npm run compat -- --original DIR`: the original runtime's own examples
// (corpus.ts), built FROM our images with only that line changed, run by our
// operator on the local cluster, checked against what their READMEs say.
// DIR is a checkout of github.com/jthomperoo/custom-pod-autoscaler (nothing
// of it is in this repository); CPA_ORIGINAL_RUNTIME works too, as for the
// bench. Uses the cluster KUBECONFIG names if it is the local plane, else
// starts (or reuses) one as hack/with-cluster.ts does. Prints a table;
// `--record` writes it into docs/compatibility.md with the commit it ran on.
// Exits non-zero unless every example passes on the drop-in flavour.
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { format, resolveConfig } from "prettier";
import { KubeConfig } from "@kubernetes/client-node";
import { stringify } from "yaml";
import { mapLimit } from "../bench/kube.ts";
import { changelogVersion } from "../bench/original.ts";
import { buildImages, HARDENED } from "../image/build.ts";
import { ImageError } from "../image/errors.ts";
import { Journey } from "../journey.ts";
import { ContainerRunner } from "../local-pods/container-runner.ts";
import { LocalKubelet } from "../local-pods/kubelet.ts";
import { cacheDir, repoRoot } from "../plane/config.ts";
import { PlaneError } from "../plane/errors.ts";
import { useCluster } from "../plane/plane.ts";
import { reachableFromApiserver, startMetricsApi } from "../../test/support/metrics-api.ts";
import {
  CorpusError,
  EXAMPLES,
  FLASK_METRIC,
  FLAVOURS,
  passed,
  buildFailure,
  recordInto,
  renderTable,
  type Example,
  type Flavour,
  type Result,
} from "./corpus.ts";
import {
  buildExample,
  checkOriginal,
  CheckError,
  pushToMirror,
  ROLLOUT_CRD,
  run,
  runExample,
  type Env,
} from "./run.ts";

const log = (line: string): void => {
  process.stderr.write(`[compat] ${new Date().toISOString().slice(11, 19)} ${line}\n`);
};

const USAGE = `usage: npm run compat -- --original DIR [options]
  --original DIR        a checkout of github.com/jthomperoo/custom-pod-autoscaler (default: $CPA_ORIGINAL_RUNTIME)
  --only a,b            only these examples (names of DIR/example/*)
  --flavour F           dropin, hardened or both (default both; only dropin decides the exit code)
  --concurrency N       examples run at once (default 3)
  --timeout S           seconds each awaited state may take (default 150)
  --record              write the table into docs/compatibility.md with the commit it ran on`;

class UsageError extends Error {}

interface Options {
  original: string;
  examples: Example[];
  flavours: Flavour[];
  concurrency: number;
  timeoutMs: number;
  record: boolean;
}

function options(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      original: { type: "string" },
      only: { type: "string" },
      flavour: { type: "string", default: "both" },
      concurrency: { type: "string", default: "3" },
      timeout: { type: "string", default: "150" },
      record: { type: "boolean", default: false },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help) throw new UsageError("");
  const original = values.original ?? process.env["CPA_ORIGINAL_RUNTIME"];
  if (!original)
    throw new UsageError(
      "--original DIR is required: a checkout of github.com/jthomperoo/custom-pod-autoscaler, whose example/ folder this runs",
    );
  const problem = checkOriginal(original);
  if (problem) throw new UsageError(problem);
  const only = values.only?.split(",").filter((n) => n !== "");
  const unknown = only?.filter((n) => !EXAMPLES.some((e) => e.name === n)) ?? [];
  if (unknown.length > 0)
    throw new UsageError(
      `--only: no example ${unknown.join(", ")}; the examples: ${EXAMPLES.map((e) => e.name).join(", ")}`,
    );
  const flavours = values.flavour === "both" ? [...FLAVOURS] : [values.flavour as Flavour];
  if (!flavours.every((f) => FLAVOURS.includes(f)))
    throw new UsageError(`--flavour: "${values.flavour}" is not dropin, hardened or both`);
  const number = (name: string, text: string): number => {
    const n = Number(text);
    if (!Number.isInteger(n) || n < 1)
      throw new UsageError(`--${name}: "${text}" is not a positive whole number`);
    return n;
  };
  return {
    original: resolve(original),
    examples: EXAMPLES.filter((e) => !only || only.includes(e.name)),
    flavours,
    concurrency: number("concurrency", values.concurrency),
    timeoutMs: number("timeout", values.timeout) * 1000,
    record: values.record,
  };
}

async function runFlavour(env: Env, o: Options, flavour: Flavour): Promise<Result[]> {
  log(`--- the ${flavour} flavour ---`);
  const built: Example[] = [];
  const results: Result[] = [];
  for (const example of o.examples) {
    const started = Date.now();
    try {
      await buildExample(env, example, flavour);
      if (example.needs.includes("push")) await pushToMirror(env, `${example.name}:latest`);
      built.push(example);
    } catch (err) {
      if (!(err instanceof ImageError || err instanceof CheckError || err instanceof CorpusError)) throw err;
      const why = err instanceof ImageError ? buildFailure(err.message, flavour) : err.message;
      log(`${example.name}: not built on ${flavour}: ${why}`);
      results.push({
        example: example.name,
        flavour,
        outcome: "not built",
        detail: why,
        seconds: Math.round((Date.now() - started) / 1000),
      });
    }
  }
  results.push(...(await mapLimit(built, o.concurrency, (e) => runExample(env, e, flavour))));
  return results;
}

function gitCommit(): string {
  const git = (...args: string[]): string =>
    execFileSync("git", args, { cwd: repoRoot, encoding: "utf8" }).trim();
  try {
    const commit = git("rev-parse", "--short=12", "HEAD");
    return git("status", "--porcelain").trim() === "" ? commit : `${commit} (with uncommitted changes)`;
  } catch {
    return "unknown (not a git checkout)";
  }
}

function originalVersion(dir: string): string {
  try {
    return changelogVersion(readFileSync(join(dir, "CHANGELOG.md"), "utf8"));
  } catch {
    return "unknown";
  }
}

async function main(o: Options): Promise<boolean> {
  // The code that runs is the code at the start: later edits to the tree are not in this run.
  const commit = gitCommit();
  const { kubeconfig, release } = await useCluster(log);
  const admin = new KubeConfig();
  admin.loadFromFile(kubeconfig);
  if (!reachableFromApiserver(admin))
    throw new CheckError(
      `${kubeconfig} is not the local plane: the check runs Pods on the local kubelet and serves a metrics API the apiserver must reach. Unset KUBECONFIG (or point it at npm run cluster:up's) and run again.`,
    );
  const kubelet = new LocalKubelet({ admin, images: new ContainerRunner() });
  const env: Env = { original: o.original, kubeconfig, admin, kubelet, log, timeoutMs: o.timeoutMs };
  // Never execFileSync: the local kubelet runs in this process's event loop.
  const kubectl = (args: string[], input?: string): Promise<string> =>
    run("kubectl", args, { ...process.env, KUBECONFIG: kubeconfig }, input);
  const results: Result[] = [];
  try {
    await buildImages(log, [...HARDENED, "runtime-dropin", "python-dropin"]);
    await ContainerRunner.removeLeftovers();
    await kubelet.start();
    if (kubelet.sharedNetwork !== undefined)
      throw new CheckError(
        `local Pods would share the host's network (${kubelet.sharedNetwork}): flask-metric's Pods each need their own address`,
      );
    const journey = new Journey({ kubectl: (args) => kubectl(args), admin, kubelet, log });
    await journey.installOperator(["-f", join(repoRoot, "config", "cluster.yaml")], "cpa-system");
    if (o.examples.some((e) => e.needs.includes("rollout-crd"))) {
      await kubectl(["apply", "-f", "-"], stringify(ROLLOUT_CRD));
      await kubectl(["wait", "--for=condition=Established", "crd/rollouts.argoproj.io"]);
    }
    if (o.examples.some((e) => e.needs.includes("metrics-api")))
      env.metricsApi = await startMetricsApi(admin);
    if (o.examples.some((e) => e.needs.includes("flask-metric")))
      await buildExample(env, FLASK_METRIC, "dropin");
    for (const flavour of o.flavours) results.push(...(await runFlavour(env, o, flavour)));
  } finally {
    await env.metricsApi?.close();
    await kubelet.stop();
    await release();
  }
  const table = renderTable(results, o.examples);
  const dir = join(cacheDir, "compat");
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "results.json"), `${JSON.stringify(results, null, 2)}\n`);
  process.stdout.write(`${table}\n`);
  if (o.record) {
    const file = join(repoRoot, "docs", "compatibility.md");
    const recorded = [
      `Run on commit \`${commit}\`, ${new Date().toISOString().slice(0, 10)}, against the original runtime ${originalVersion(o.original)}'s \`example/\` (\`npm run compat -- --original DIR${o.flavours.length === 1 ? ` --flavour ${o.flavours[0] ?? ""}` : ""}\`):`,
      "",
      table,
    ].join("\n");
    // As `prettier --check` wants the page: the table aligned.
    const text = recordInto(readFileSync(file, "utf8"), recorded);
    const options = (await resolveConfig(file)) ?? {};
    writeFileSync(file, await format(text, { ...options, filepath: file }));
    log(`wrote the table into ${file}`);
  }
  const ok = passed(results);
  log(
    ok
      ? "every example passed on the drop-in flavour"
      : "an example failed on the drop-in flavour (see the table)",
  );
  return ok;
}

try {
  process.exitCode = (await main(options(process.argv.slice(2)))) ? 0 : 1;
} catch (err) {
  if (err instanceof UsageError) {
    process.stderr.write(`${err.message ? `error: ${err.message}\n` : ""}${USAGE}\n`);
    process.exitCode = 2;
  } else if (err instanceof PlaneError || err instanceof CheckError || err instanceof ImageError) {
    log(`error: ${err.message}`);
    process.exitCode = 1;
  } else throw err;
}
