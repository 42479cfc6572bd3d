// `cpa autoscaler`: the program inside the autoscaler Pod (the image's default
// command). Reads the config file and env, then runs the loop and the REST API.
import { hostname } from "node:os";
import { parseArgs } from "node:util";
import { CPA_NAME_ENV, CPA_SHADOW_ENV } from "../api/names.ts";
import { assemble } from "../autoscaler/assemble.ts";
import { startApiServer } from "../autoscaler/api.ts";
import type { Server } from "node:http";
import type { Logger } from "pino";
import type { Registry } from "../lib/metrics.ts";
import type { Autoscaler } from "../autoscaler/autoscaler.ts";
import { ConfigError, DEFAULT_CONFIG_PATH, loadConfig, type Config } from "../autoscaler/config.ts";
import { loadCredentials } from "../kube/credentials.ts";
import { userAgent } from "../lib/version.ts";
import { createLogger } from "../lib/log.ts";
import { autoscalerMetrics, instrumentKubeRequests, newRegistry } from "../lib/metrics.ts";
import { UsageError } from "./flags.ts";

function parseAutoscalerArgs(args: string[]) {
  try {
    return parseArgs({
      args,
      strict: true,
      options: {
        config: { type: "string" },
        kubeconfig: { type: "string" },
        "log-level": { type: "string" },
      },
    }).values;
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
}

export async function runAutoscalerCommand(args: string[]): Promise<number> {
  const values = parseAutoscalerArgs(args);
  // Signals first: in the image cpa runs under tini, which forwards SIGTERM at any time.
  const stop = new AbortController();
  const onSignal = (): void => {
    stop.abort();
  };
  process.once("SIGTERM", onSignal).once("SIGINT", onSignal);
  const env = process.env;
  const log = createLogger("cpa-autoscaler", values["log-level"] ?? env["LOG_LEVEL"] ?? "info");
  const path = values.config ?? env["configPath"] ?? DEFAULT_CONFIG_PATH;
  let loaded;
  try {
    loaded = loadConfig(env, path);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    log.fatal({ config: path, problems: err.problems }, "Invalid configuration; not starting");
    process.stderr.write(`cpa autoscaler: ${err.message}\n`);
    return 1;
  }
  const { config } = loaded;
  for (const warning of loaded.warnings) log.warn({ config: path }, warning);
  const registry = newRegistry();
  const metrics = autoscalerMetrics(registry);
  let assembled;
  try {
    assembled = await assemble({
      config,
      credentials: await loadCredentials(values.kubeconfig),
      log,
      cpaName: env[CPA_NAME_ENV],
      shadow: env[CPA_SHADOW_ENV] === "true",
      metrics,
      instance: hostname(),
      userAgent: userAgent("cpa-autoscaler", config.namespace, env),
    });
  } catch (err) {
    log.fatal({ err: err instanceof Error ? err.message : String(err) }, "Could not start the autoscaler");
    return 1;
  }
  instrumentKubeRequests(registry, assembled.http);
  const { autoscaler } = assembled;
  const server = await startApi(autoscaler, config, registry, log);
  if (server === null) {
    await assembled.stages.close();
    return 1;
  }
  stop.signal.addEventListener("abort", () => {
    log.info("Shutting down");
    void autoscaler.stop();
  });
  log.info(
    {
      target: `${config.scaleTargetRef.kind}/${config.scaleTargetRef.name}`,
      namespace: config.namespace,
      runMode: config.runMode,
      minReplicas: config.minReplicas,
      maxReplicas: config.maxReplicas,
    },
    "Starting autoscaler",
  );
  try {
    if (!stop.signal.aborted) await autoscaler.loop(stop.signal);
  } finally {
    server?.close();
    server?.closeAllConnections();
    await autoscaler.stop();
    assembled.reporter?.close();
    await assembled.stages.close();
  }
  return 0;
}

/** The REST API if apiConfig enables it; null (logged) when it cannot start. */
async function startApi(
  autoscaler: Autoscaler,
  config: Config,
  registry: Registry,
  log: Logger,
): Promise<Server | undefined | null> {
  if (!config.apiConfig.enabled) return undefined;
  try {
    return await startApiServer({
      autoscaler,
      config,
      registry,
      log,
      // Unhealthy once no run has finished for five intervals (the loop is stuck).
      isHealthy: () => {
        const last = autoscaler.lastRunAt;
        return last === undefined || Date.now() - last < 5 * config.interval + 60_000;
      },
    });
  } catch (err) {
    const { host, port } = config.apiConfig;
    log.fatal(
      { err: err instanceof Error ? err.message : String(err), address: `${host}:${port}` },
      "Could not start the REST API (apiConfig); not starting",
    );
    return null;
  }
}
