// `cpa run`: runs an autoscaler from a local config.yaml against the current
// kubeconfig, without building an image, printing each stage's input and output.
// The edit-run loop of an autoscaler author.
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import type { KubeConfig } from "@kubernetes/client-node";
import { assemble } from "../autoscaler/assemble.ts";
import { ConfigError, loadConfig } from "../autoscaler/config.ts";
import type { StageName } from "../autoscaler/stages.ts";
import { Discovery } from "../kube/discovery.ts";
import { KubeHttp } from "../kube/http.ts";
import { sleep, systemClock } from "../lib/clock.ts";
import { createLogger } from "../lib/log.ts";
import { UsageError } from "./flags.ts";
import { processIo, type Io } from "./io.ts";
import { rootConfig, type RootedPath } from "./run-root.ts";

export type RunIo = Io;

function parse(args: string[]) {
  try {
    return parseArgs({
      args,
      strict: true,
      options: {
        config: { type: "string", default: "config.yaml" },
        target: { type: "string" },
        namespace: { type: "string", short: "n" },
        kubeconfig: { type: "string" },
        once: { type: "boolean", default: false },
        "dry-run": { type: "boolean", default: false },
        root: { type: "string" },
        full: { type: "boolean", default: false },
        "log-level": { type: "string", default: "warn" },
      },
    }).values;
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
}

/** `cpa run` is for a workstation: always a kubeconfig, and its context's namespace. */
export async function loadKubeConfig(path: string | undefined): Promise<KubeConfig> {
  const { KubeConfig } = await import("@kubernetes/client-node");
  const kc = new KubeConfig();
  if (path) kc.loadFromFile(path);
  else kc.loadFromDefault();
  if (!kc.getCurrentCluster())
    throw new Error("no Kubernetes cluster configured: the kubeconfig has no current cluster");
  return kc;
}

/** The env the config is loaded from: the process's, plus --namespace and --target. */
async function runEnv(values: ReturnType<typeof parse>, kc: KubeConfig): Promise<NodeJS.ProcessEnv> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  const namespace =
    values.namespace ?? env["namespace"] ?? kc.getContextObject(kc.getCurrentContext())?.namespace;
  if (namespace) env["namespace"] = namespace;
  if (values.target) {
    const [type, name] = values.target.split("/");
    if (!type || !name)
      throw new UsageError(`--target: expected TYPE/NAME (e.g. deployment/web), got "${values.target}"`);
    const resource = await new Discovery(new KubeHttp(kc)).lookup(type);
    const apiVersion = resource.group ? `${resource.group}/${resource.version}` : resource.version;
    env["scaleTargetRef"] = JSON.stringify({ kind: resource.kind, name, apiVersion });
  }
  return env;
}

export async function runRun(args: string[], io: RunIo = processIo): Promise<number> {
  const values = parse(args);
  const kc = await loadKubeConfig(values.kubeconfig);
  const env = await runEnv(values, kc);
  let loaded;
  try {
    loaded = loadConfig(env, values.config);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    io.err(`${values.config}: ${err.message}\n`);
    return 1;
  }
  let { config } = loaded;
  let mapped: RootedPath[] = [];
  if (values.root !== undefined) {
    const root = resolve(values.root);
    if (!existsSync(root)) throw new UsageError(`--root: ${values.root} does not exist`);
    ({ config, mapped } = rootConfig(config, root, existsSync));
  }
  // `cpa run` is for trying things: the REST API stays off and no status is reported.
  config.apiConfig = { ...config.apiConfig, enabled: false };
  const log = createLogger("cpa-run", values["log-level"]);
  const { autoscaler, stages } = await assemble({ config, credentials: kc, log });
  const dryRun = values["dry-run"];
  io.out(
    `Autoscaling ${config.scaleTargetRef.kind}/${config.scaleTargetRef.name} in ${config.namespace} ` +
      `(${config.runMode}, min ${config.minReplicas}, max ${config.maxReplicas}${dryRun ? ", dry run: nothing is scaled" : ", scales for real as your kubeconfig's user"})\n`,
  );
  for (const m of mapped) io.out(`${m.stage}: ${m.from} is read from ${m.to}\n`);
  const show = values.full ? whole : shorten;
  stages.observe(({ stage, input, output, error, seconds }) => {
    io.out(`\n── ${stage} (${(seconds * 1000).toFixed(0)} ms)\n   input:  ${show(input)}\n`);
    if (error) io.out(`   FAILED: ${error.message}\n`);
    else io.out(`   output: ${output === undefined || output === "" ? "(empty)" : show(output)}\n`);
  });
  const once = async (): Promise<boolean> => {
    try {
      const outcome = await autoscaler.run("scaler", dryRun);
      const d = outcome.decision;
      const verb = outcome.scaled ? "scaled" : dryRun && d.scale ? "would scale" : "no change";
      io.out(
        `\n=> current ${outcome.target.current}, evaluated ${outcome.evaluation.targetReplicas}, desired ${d.replicas}: ${verb} (${d.reason})\n`,
      );
      return true;
    } catch (err) {
      io.out(
        `\n=> run failed, the target is left as it is: ${err instanceof Error ? err.message : String(err)}\n`,
      );
      return false;
    }
  };
  try {
    if (values.once) return (await once()) ? 0 : 1;
    const stop = new AbortController();
    process.once("SIGINT", () => {
      stop.abort();
      // Stops a stage that is running (a shell stage's whole process group).
      void autoscaler.stop();
    });
    io.out(`Running every ${config.interval} ms; Ctrl-C to stop.\n`);
    while (!stop.signal.aborted) {
      await once();
      await sleep(systemClock, config.interval, stop.signal);
    }
    return 0;
  } finally {
    await stages.close();
  }
}

/** One line, cut at max characters: enough to recognise the input without flooding the terminal. */
export function shorten(text: string, max = 400): string {
  const oneLine = text.replace(/\s*\n\s*/g, " ");
  return oneLine.length > max ? `${oneLine.slice(0, max)}… (${oneLine.length} chars)` : oneLine;
}

/** The text whole; JSON pretty-printed and indented under its label, so it can be read and copied. */
export function whole(text: string): string {
  let pretty = text;
  try {
    pretty = JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    // Not JSON (a script's plain output): as it is.
  }
  return pretty.replace(/\n/g, "\n           ");
}

export type { StageName };
