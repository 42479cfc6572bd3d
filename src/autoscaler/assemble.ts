// Builds an Autoscaler from a configuration and a cluster connection: the one
// place `cpa autoscaler` and `cpa run` share.
import type { Logger } from "pino";
import type { ClusterCredentials } from "../kube/credentials.ts";
import { Discovery } from "../kube/discovery.ts";
import { ApiEventRecorder } from "../kube/events.ts";
import { KubeHttp } from "../kube/http.ts";
import { Writer } from "../kube/writes.ts";
import { systemClock, type Clock } from "../lib/clock.ts";
import type { AutoscalerMetrics } from "../lib/metrics.ts";
import { Autoscaler } from "./autoscaler.ts";
import type { Config } from "./config.ts";
import { emptyHistory, type History } from "./decide/decide.ts";
import { fromPersisted, targetKey } from "./durable.ts";
import type { StageRunner } from "./methods/method.ts";
import { createRunner } from "./methods/registry.ts";
import { AUTOSCALER_FIELD_MANAGER, StatusReporter } from "./reporter.ts";
import { STAGES, Stages, type StageName } from "./stages.ts";
import { gatherKubernetesMetrics } from "./k8smetrics/gather.ts";
import { TargetClient, type TargetState } from "./target.ts";

export function buildStages(config: Config, log: Logger): Stages {
  const runners: Partial<Record<StageName, StageRunner>> = {};
  for (const stage of STAGES) {
    const method = config[stage];
    if (method)
      runners[stage] = createRunner(method, { configDir: config.configDir, log: log.child({ stage }) });
  }
  return new Stages(runners, log);
}

export interface Assembled {
  autoscaler: Autoscaler;
  http: KubeHttp;
  stages: Stages;
  reporter: StatusReporter | undefined;
}

export async function assemble(opts: {
  config: Config;
  /** A KubeConfig, or the Pod's in-cluster credentials (see kube/credentials.ts). */
  credentials: ClusterCredentials;
  log: Logger;
  /** The CustomPodAutoscaler to report status on (the operator passes CPA_NAME). */
  cpaName?: string | undefined;
  metrics?: AutoscalerMetrics | undefined;
  clock?: Clock;
  instance?: string;
  /** Sent with every API request (see lib/version.ts). */
  userAgent?: string;
  /** A shadow CPA's autoscaler (CPA_SHADOW): decides, never writes /scale. */
  shadow?: boolean;
}): Promise<Assembled> {
  const { config, log } = opts;
  const clock = opts.clock ?? systemClock;
  const http = new KubeHttp(opts.credentials, opts.userAgent ? { userAgent: opts.userAgent } : {});
  const writer = new Writer(http, AUTOSCALER_FIELD_MANAGER);
  const discovery = new Discovery(http);
  const target = new TargetClient(http, discovery, writer, config.scaleTargetRef, config.namespace);
  const specs = config.kubernetesMetricSpecs;
  const kubernetesMetrics = specs
    ? (state: TargetState) =>
        gatherKubernetesMetrics({
          specs,
          http,
          discovery,
          namespace: config.namespace,
          current: state.current,
          selector: state.selector,
          cpuInitializationPeriodSeconds: config.cpuInitializationPeriod,
          initialReadinessDelaySeconds: config.initialReadinessDelay,
          now: clock.now(),
        })
    : undefined;
  const stages = buildStages(config, log);
  let reporter: StatusReporter | undefined;
  if (opts.cpaName) {
    reporter = new StatusReporter({
      http,
      writer,
      namespace: config.namespace,
      name: opts.cpaName,
      events: new ApiEventRecorder(http, AUTOSCALER_FIELD_MANAGER, opts.instance ?? "autoscaler", log),
      log,
      clock,
    });
    await reporter.init();
  }
  const autoscaler = new Autoscaler({
    ctx: {
      config,
      target,
      stages,
      log,
      now: () => clock.now(),
      ...(kubernetesMetrics ? { kubernetesMetrics } : {}),
      ...(opts.shadow ? { shadow: true } : {}),
    },
    clock,
    ...restore(config, reporter, log),
    reporter,
    metrics: opts.metrics,
  });
  return { autoscaler, http, stages, reporter };
}

/**
 * Where a new autoscaler starts: the history and state the CPA's status holds
 * (durable.ts), or empty ones, saying why (a different target, an unreadable
 * CPA). Without a CPA to report on (cpa run without one) both live in memory.
 */
function restore(
  config: Config,
  reporter: StatusReporter | undefined,
  log: Logger,
): { history: History; userState?: unknown } {
  const empty = { history: emptyHistory() };
  if (!reporter) return empty;
  const persisted = reporter.startHistory;
  if (persisted === "unread") {
    log.warn(
      "Could not read the CustomPodAutoscaler at start: the decision history and state start empty (status reporting retries)",
    );
    return empty;
  }
  const restored = fromPersisted(persisted, targetKey(config.scaleTargetRef));
  if (restored.kind === "none") return empty;
  if (restored.kind === "dropped") {
    log.warn(`Decision history dropped: ${restored.reason}`);
    reporter.event("Normal", "HistoryDropped", `Decision history dropped: ${restored.reason}`);
    return empty;
  }
  log.info(
    { history: restored.summary },
    "Decision history and state loaded from the CustomPodAutoscaler's status",
  );
  return { history: restored.durable.history, userState: restored.durable.userState };
}
