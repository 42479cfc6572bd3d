// `cpa record NAME -n NS [--since 6h] [--out trace.jsonl]`: the flight records
// of a CPA's autoscaler, read from its Pod's log through the API (pods/log,
// which the built-in `view` role grants; never pods/proxy), written as a trace
// file for `cpa replay`.
import { writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import type { V1Pod, V1PodList } from "@kubernetes/client-node";
import { API_VERSION, MANAGED_BY_LABEL, MANAGED_BY_VALUE, OWNED_BY_LABEL, PLURAL } from "../api/names.ts";
import { parseRecords } from "../autoscaler/recorder/parse.ts";
import type { RunRecord } from "../autoscaler/recorder/record.ts";
import { parseSince } from "../autoscaler/recorder/ring.ts";
import { KubeApiError, KubeHttp } from "../kube/http.ts";
import { ownedByValue } from "../operator/desired/meta.ts";
import { UsageError } from "./flags.ts";
import { processIo, type Io } from "./io.ts";
import { loadKubeConfig } from "./run.ts";

export type RecordIo = Io;

function parse(args: string[]) {
  try {
    return parseArgs({
      args,
      strict: true,
      allowPositionals: true,
      options: {
        namespace: { type: "string", short: "n" },
        since: { type: "string" },
        out: { type: "string", short: "o" },
        kubeconfig: { type: "string" },
      },
    });
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
}

/** Why the API refused, in terms of the right the user lacks. */
function refused(err: unknown, what: string, grantedBy: string): Error {
  if (err instanceof KubeApiError && err.status === 403)
    return new Error(`you may not ${what} (${grantedBy}): ${err.message}`);
  return err instanceof Error ? err : new Error(String(err));
}

/** One container's log lines (and its previous instance's, when it restarted). */
async function containerLines(
  http: KubeHttp,
  pod: V1Pod,
  container: string,
  restarted: boolean,
  sinceSeconds: number | undefined,
): Promise<string[]> {
  const lines: string[] = [];
  const path = `/api/v1/namespaces/${pod.metadata?.namespace ?? ""}/pods/${pod.metadata?.name ?? ""}/log`;
  for (const previous of restarted ? [true, false] : [false]) {
    const signal = new AbortController().signal;
    await http
      .stream(path, {
        query: {
          container,
          ...(previous ? { previous: true } : {}),
          ...(sinceSeconds ? { sinceSeconds } : {}),
        },
        onLine: (line) => lines.push(line),
        signal,
        idleMs: 60_000,
      })
      .catch((err: unknown) => {
        // A previous instance whose log the node no longer has: the current one still counts.
        if (previous && err instanceof KubeApiError && (err.status === 400 || err.status === 404)) return;
        throw refused(
          err,
          `read the log of Pod ${pod.metadata?.name ?? ""}`,
          "pods/log, which the view role grants",
        );
      });
  }
  return lines;
}

/** The CPA's autoscaler Pods (the current one, and one still terminating), checked the user may read them. */
async function autoscalerPods(http: KubeHttp, name: string, namespace: string): Promise<V1Pod[]> {
  await http
    .request("GET", `/apis/${API_VERSION}/namespaces/${namespace}/${PLURAL}/${name}`)
    .catch((err: unknown) => {
      if (err instanceof KubeApiError && err.status === 404)
        throw new Error(`no CustomPodAutoscaler ${name} in namespace ${namespace}`);
      throw refused(
        err,
        `read CustomPodAutoscaler ${name} in ${namespace}`,
        "the cpa-view ClusterRole grants it",
      );
    });
  const pods = await http
    .request<V1PodList>("GET", `/api/v1/namespaces/${namespace}/pods`, {
      query: {
        labelSelector: `${OWNED_BY_LABEL}=${ownedByValue(name)},${MANAGED_BY_LABEL}=${MANAGED_BY_VALUE}`,
      },
    })
    .catch((err: unknown) => {
      throw refused(err, `list Pods in ${namespace}`, "the view role grants it");
    });
  if (pods.items.length === 0)
    throw new Error(
      `CustomPodAutoscaler ${name} has no autoscaler Pod in ${namespace} (\`kubectl describe cpa ${name} -n ${namespace}\` says why)`,
    );
  return pods.items;
}

/** Every container's log lines, of every Pod. */
async function podLines(
  http: KubeHttp,
  pods: readonly V1Pod[],
  sinceSeconds: number | undefined,
): Promise<string[]> {
  const lines: string[] = [];
  for (const pod of pods)
    for (const container of pod.spec?.containers ?? []) {
      const status = pod.status?.containerStatuses?.find((s) => s.name === container.name);
      const restarted = (status?.restartCount ?? 0) > 0;
      lines.push(...(await containerLines(http, pod, container.name, restarted, sinceSeconds)));
    }
  return lines;
}

export async function runRecord(args: string[], io: RecordIo = processIo): Promise<number> {
  const { values, positionals } = parse(args);
  const [name, ...extra] = positionals;
  if (!name || extra.length > 0) throw new UsageError("expected one CustomPodAutoscaler name");
  const now = Date.now();
  const since = values.since === undefined ? undefined : parseSince(values.since, now);
  if (typeof since === "string") throw new UsageError(`--since: ${since}`);
  const kc = await loadKubeConfig(values.kubeconfig);
  const namespace = values.namespace ?? kc.getContextObject(kc.getCurrentContext())?.namespace ?? "default";
  const http = new KubeHttp(kc);
  const pods = await autoscalerPods(http, name, namespace);
  // The log API takes whole seconds back from now; the records' own times filter exactly.
  const sinceSeconds = since === undefined ? undefined : Math.max(1, Math.ceil((now - since) / 1000));
  const parsed = parseRecords(await podLines(http, pods, sinceSeconds));
  const records = parsed.records.filter((r) => since === undefined || Date.parse(r.time) >= since);
  const text = records.map((r) => `${JSON.stringify(r)}\n`).join("");
  if (values.out) writeFileSync(values.out, text);
  else io.out(text);

  const podNames = pods.map((p) => p.metadata?.name ?? "").join(", ");
  io.err(`${summaryLine(name, records, podNames, values.out)}\n`);
  if (parsed.unknownVersion > 0)
    io.err(
      `${parsed.unknownVersion} records of a newer format were left out: use a cpa as new as the autoscaler's\n`,
    );
  if (records.length === 0)
    io.err(
      "The log holds no flight records: the autoscaler may run an image older than cpa's recorder (or the original's runtime), " +
        "its log may have rotated (export records from your log store instead), or --since reaches too little back.\n",
    );
  return 0;
}

function summaryLine(name: string, records: RunRecord[], pods: string, out: string | undefined): string {
  const first = records[0]?.time;
  const last = records.at(-1)?.time;
  const span = first && last ? ` from ${first} to ${last}` : "";
  return `Recorded ${records.length} runs of ${name}${span}, from the log of ${pods}${out ? `, into ${out}` : ""}`;
}
