// `cpa operator`: runs the operator against the current kubeconfig, or with the
// in-cluster config inside a Pod.
import { hostname } from "node:os";
import { randomBytes } from "node:crypto";
import { parseArgs } from "node:util";
import type { Logger } from "pino";
import { loadCredentials, type ClusterCredentials } from "../kube/credentials.ts";
import { KubeHttp } from "../kube/http.ts";
import { userAgent } from "../lib/version.ts";
import { serviceAccountFromEnv, serviceAccountOf, whoAmI, type ServiceAccountRef } from "../kube/identity.ts";
import { createLogger } from "../lib/log.ts";
import { instrumentKubeRequests, newRegistry, operatorMetrics } from "../lib/metrics.ts";
import { startProbeServer } from "../lib/probe-server.ts";
import { LeaderElector } from "../kube/leader-election.ts";
import { WorkQueue } from "../kube/work-queue.ts";
import { AdmissionGuard } from "../operator/admission-guard.ts";
import { Controller, type RunEnd } from "../operator/controller.ts";
import { parseDuration, parsePositiveInt, UsageError } from "./flags.ts";

export interface OperatorOptions {
  kubeconfig: string | undefined;
  namespaces: readonly string[] | undefined;
  leaderElect: boolean;
  leaseNamespace: string;
  leaseName: string;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
  httpAddress: string;
  workers: number;
  resyncMs: number;
  watchTimeoutMs: number;
  cacheStaleLimitMs: number;
  logLevel: string;
  /** Provision even without the admission policy (the admin opted out). */
  skipAdmissionPolicyCheck: boolean;
  admissionPolicyCheckIntervalMs: number;
}

export function parseOperatorArgs(args: string[], env: NodeJS.ProcessEnv): OperatorOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      strict: true,
      options: {
        kubeconfig: { type: "string" },
        namespace: { type: "string" },
        "leader-elect": { type: "boolean", default: false },
        "leader-election-namespace": { type: "string" },
        "leader-election-id": { type: "string", default: "cpa-operator" },
        "leader-election-lease-duration": { type: "string", default: "15s" },
        "leader-election-renew-deadline": { type: "string", default: "10s" },
        "leader-election-retry-period": { type: "string", default: "2s" },
        "http-address": { type: "string", default: ":8080" },
        workers: { type: "string", default: "4" },
        resync: { type: "string", default: "10m" },
        "watch-timeout": { type: "string", default: "5m" },
        "cache-stale-limit": { type: "string", default: "2m" },
        "log-level": { type: "string" },
        "skip-admission-policy-check": { type: "boolean", default: false },
        "admission-policy-check-interval": { type: "string", default: "30s" },
      },
    }));
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
  // A comma-separated list: the namespaced install manages the namespaces it is bound into.
  const namespaces = (values.namespace ?? env["WATCH_NAMESPACE"] ?? "")
    .split(",")
    .map((n) => n.trim())
    .filter((n) => n !== "");
  const lease = {
    leaseDurationMs: parseDuration(
      "--leader-election-lease-duration",
      values["leader-election-lease-duration"],
    ),
    renewDeadlineMs: parseDuration(
      "--leader-election-renew-deadline",
      values["leader-election-renew-deadline"],
    ),
    retryPeriodMs: parseDuration("--leader-election-retry-period", values["leader-election-retry-period"]),
  };
  if (!(lease.leaseDurationMs > lease.renewDeadlineMs && lease.renewDeadlineMs > lease.retryPeriodMs)) {
    throw new UsageError(
      "leader election needs --leader-election-lease-duration > --leader-election-renew-deadline > --leader-election-retry-period",
    );
  }
  return {
    ...lease,
    kubeconfig: values.kubeconfig,
    namespaces: namespaces.length === 0 ? undefined : namespaces,
    leaderElect: values["leader-elect"],
    leaseNamespace: values["leader-election-namespace"] ?? env["POD_NAMESPACE"] ?? namespaces[0] ?? "default",
    leaseName: values["leader-election-id"],
    httpAddress: values["http-address"],
    workers: parsePositiveInt("--workers", values.workers),
    resyncMs: parseDuration("--resync", values.resync),
    watchTimeoutMs: parseDuration("--watch-timeout", values["watch-timeout"]),
    cacheStaleLimitMs: parseDuration("--cache-stale-limit", values["cache-stale-limit"]),
    logLevel: values["log-level"] ?? env["LOG_LEVEL"] ?? "info",
    skipAdmissionPolicyCheck: values["skip-admission-policy-check"],
    admissionPolicyCheckIntervalMs: parseDuration(
      "--admission-policy-check-interval",
      values["admission-policy-check-interval"],
    ),
  };
}

export async function runOperator(args: string[]): Promise<number> {
  const opts = parseOperatorArgs(args, process.env);
  const log = createLogger("cpa-operator", opts.logLevel);
  let credentials: ClusterCredentials;
  try {
    // In a Pod this reads the ServiceAccount token directly; client-node (about
    // 80 MB of generated API classes) is loaded only to read a kubeconfig.
    credentials = await loadCredentials(opts.kubeconfig);
  } catch (err) {
    log.fatal({ err: err instanceof Error ? err.message : String(err) }, "Could not load a kubeconfig");
    return 1;
  }
  const http = new KubeHttp(credentials, {
    userAgent: userAgent("cpa-operator", process.env["POD_NAMESPACE"], process.env),
  });
  const serviceAccount = await operatorServiceAccount(http, log);
  if (serviceAccount === null) return 1;
  const registry = newRegistry();
  instrumentKubeRequests(registry, http);
  const identity = `${hostname()}_${randomBytes(4).toString("hex")}`;
  const queue = new WorkQueue();
  const metrics = operatorMetrics(registry, () => queue.len());
  const guard = admissionGuard(opts, http, log, () => {
    controller.requeueAll();
  });
  const controller = new Controller({
    http,
    log,
    namespaces: opts.namespaces,
    workers: opts.workers,
    resyncMs: opts.resyncMs,
    instance: identity,
    queue,
    metrics,
    serviceAccount,
    watchTimeoutSeconds: Math.max(1, Math.round(opts.watchTimeoutMs / 1000)),
    ...(guard ? { admissionProblem: () => guard.problem } : {}),
  });
  // Before the first reconcile, and every interval after (each replica: a standby is ready only with the policy).
  await guard?.check();
  let leading = false;
  const server =
    opts.httpAddress === "0"
      ? undefined
      : await startProbeServer({
          address: opts.httpAddress,
          registry,
          // A standby is ready too: it serves probes while it waits for the lease.
          // Not while the admission policy is missing: every CPA waits for it (admission-guard.ts).
          isReady: () => (!leading || controller.synced) && guard?.problem === undefined,
          // Alive unless a cache has gone stale for too long (the liveness probe restarts us).
          isHealthy: () => controller.staleFor() < opts.cacheStaleLimitMs,
        });

  const stop = new AbortController();
  const onSignal = (sig: string): void => {
    log.info({ signal: sig }, "Shutting down");
    stop.abort();
  };
  process.once("SIGTERM", onSignal).once("SIGINT", onSignal);
  const guarding = guard?.run(stop.signal);
  log.info(
    {
      namespace: opts.namespaces?.join(",") ?? "(all)",
      leaderElect: opts.leaderElect,
      identity,
      server: credentials.getCurrentCluster()?.server,
    },
    "Starting operator",
  );
  try {
    if (!opts.leaderElect) {
      leading = true;
      metrics.leader.set(1);
      await controller.run(stop.signal);
      return 0;
    }
    const term: { lost: boolean; end?: RunEnd } = { lost: false };
    const elector = new LeaderElector({
      http,
      namespace: opts.leaseNamespace,
      name: opts.leaseName,
      identity,
      leaseDurationMs: opts.leaseDurationMs,
      renewDeadlineMs: opts.renewDeadlineMs,
      retryPeriodMs: opts.retryPeriodMs,
      log: (obj, msg) => {
        log.info(obj, msg);
      },
    });
    await elector.run(
      {
        onStartedLeading(signal) {
          leading = true;
          metrics.leader.set(1);
          log.info({ lease: `${opts.leaseNamespace}/${opts.leaseName}` }, "Became the leader; reconciling");
          // The elector releases the Lease only once this has returned: no write after the handover.
          return controller.run(signal).then((end) => {
            term.end = end;
          });
        },
        // Writes cut in flight at the grace period's end may still land: let the Lease expire.
        mayRelease: () => term.end?.settled !== false,
        onStoppedLeading(wasLost) {
          metrics.leader.set(0);
          term.lost = wasLost;
        },
        onNewLeader(holder) {
          if (holder !== identity) log.info({ leader: holder }, "Another replica leads; standing by");
        },
      },
      stop.signal,
    );
    if (term.lost) {
      // Like controller-runtime: a replica that lost its lease exits at once, without
      // waiting for its workers (their requests are aborted), and is restarted fresh
      // rather than carry caches and queues into a second term.
      log.error("Lost the leader lease; exiting so a fresh process can rejoin the election");
      process.exit(1);
    }
    return 0;
  } finally {
    stop.abort();
    await guarding;
    server?.close();
  }
}

/** The admission policy check, or undefined (with a warning) when the admin opted out. */
function admissionGuard(
  opts: OperatorOptions,
  http: KubeHttp,
  log: Logger,
  onChange: () => void,
): AdmissionGuard | undefined {
  if (opts.skipAdmissionPolicyCheck) {
    log.warn(
      "--skip-admission-policy-check: provisioning without checking the admission policy. If it is missing, a CPA's author can obtain through the operator what they may not do themselves (docs/security.md)",
    );
    return undefined;
  }
  return new AdmissionGuard({ http, log, intervalMs: opts.admissionPolicyCheckIntervalMs, onChange });
}

/**
 * The ServiceAccount the operator runs as (undefined when it is not one, e.g. a
 * developer's kubeconfig); null when it cannot be told, which is fatal.
 */
async function operatorServiceAccount(
  http: KubeHttp,
  log: Logger,
): Promise<ServiceAccountRef | undefined | null> {
  try {
    const username = await whoAmI(http);
    log.info({ user: username }, "Authenticated");
    return serviceAccountOf(username);
  } catch (err) {
    const fromEnv = serviceAccountFromEnv(process.env);
    if (fromEnv) return fromEnv;
    log.fatal(
      { err: err instanceof Error ? err.message : String(err) },
      "Could not tell which ServiceAccount the operator runs as (a SelfSubjectReview failed, and POD_NAMESPACE and SERVICE_ACCOUNT_NAME are not set); it must know, so that no autoscaler Pod runs as it",
    );
    return null;
  }
}
