// The subcommands of the `cpa` CLI. Each module is loaded only when its command
// runs, so `cpa --help` stays fast. Only entry points under src/cmd decide exit codes.

export interface Command {
  name: string;
  summary: string;
  usage: string;
  run: (args: string[]) => Promise<number>;
}

const operatorUsage = `Usage: cpa operator [options]

Runs the CustomPodAutoscaler operator: provisions a ServiceAccount, Role,
RoleBinding and autoscaler Pod for every CustomPodAutoscaler and keeps them in sync.
Uses --kubeconfig, else $KUBECONFIG or ~/.kube/config, else the in-cluster config.

Options:
  --kubeconfig PATH                  kubeconfig to use
  --namespace NS[,NS...]             watch only these namespaces (default: $WATCH_NAMESPACE, else all)
  --leader-elect                     run leader election, so only one replica reconciles
  --leader-election-namespace NS     namespace of the Lease (default: $POD_NAMESPACE, else the first --namespace, else default)
  --leader-election-id NAME          name of the Lease (default: cpa-operator)
  --leader-election-lease-duration D how long a Lease lasts unrenewed before a standby takes it (default: 15s)
  --leader-election-renew-deadline D how long the leader retries renewing before it steps down (default: 10s)
  --leader-election-retry-period D   how often candidates try, and the leader renews (default: 2s)
  --http-address HOST:PORT           /metrics, /healthz and /readyz (default: :8080; "0" disables)
  --workers N                        concurrent reconciles (default: 4)
  --resync DURATION                  how often every CPA is checked again (default: 10m)
  --watch-timeout DURATION           how long each watch runs before it is renewed (default: 5m)
  --cache-stale-limit DURATION       /healthz fails when a cache has had no working watch this long (default: 2m)
  --log-level LEVEL                  trace, debug, info, warn, error (default: info, or $LOG_LEVEL)
  --admission-policy-check-interval D
                                     how often the admission policy is checked (default: 30s)
  --skip-admission-policy-check      provision without checking the admission policy is in place: a CPA's
                                     author can then obtain what they may not do themselves`;

const autoscalerUsage = `Usage: cpa autoscaler [--config PATH] [--kubeconfig PATH] [--log-level LEVEL]

Runs an autoscaler: the program inside the autoscaler Pod, and the image's default
command. Reads the config file (--config, else $configPath, else /config.yaml), then
one env var per top-level key overriding it (how the operator passes spec.config),
and runs the metric and evaluate stages every interval, scaling the target through
its /scale subresource. Serves the REST API from apiConfig.`;

const runUsage = `Usage: cpa run [--config config.yaml] [--target TYPE/NAME] [-n NAMESPACE] [--once] [--dry-run] [--root DIR] [--full]

Runs an autoscaler from a local config against the current kubeconfig, without an
image, printing each stage's input and output: the edit-run loop for autoscaler
authors. --target (e.g. deployment/web) sets scaleTargetRef; --once runs a single
time and exits non-zero if the run failed. Without --dry-run it scales the target
for real, with your kubeconfig's credentials.

Options:
  --config PATH       the autoscaler's config (default: config.yaml)
  --target TYPE/NAME  what to scale, as kubectl names it (deployment/web, sts/db)
  -n, --namespace NS  namespace of the target (default: $namespace, else the kubeconfig context's)
  --kubeconfig PATH   kubeconfig to use
  --once              one run, then exit
  --dry-run           evaluate and decide, but never scale
  --root DIR          DIR stands for the image's /: absolute paths in the stages
                      (python /metric.py) that exist under DIR are read from there
  --full              print each stage's input and output whole, JSON indented
                      (default: one line, cut at 400 characters)
  --log-level LEVEL   the runtime's own JSON logs (default: warn)`;

const validateUsage = `Usage: cpa validate <config.yaml>

Checks an autoscaler configuration offline, with env overrides applied as the
autoscaler would, and prints the effective configuration. Exits 1 naming every
problem (key, value, what was expected, and whether it came from the file or env).`;

const recordUsage = `Usage: cpa record NAME [-n NAMESPACE] [--since 6h|RFC3339] [--out trace.jsonl] [--kubeconfig PATH]

Reads the flight records of CustomPodAutoscaler NAME's autoscaler (one per run:
what the stages saw and returned, and the decision with the rules that shaped it)
from its Pod's log through the Kubernetes API, and writes them as JSON lines, for
cpa replay. Needs only what the built-in view role and cpa-view grant: get the
CPA, list Pods, read pods/log. A Pod's log ends with the Pod: export older records
from your log store (its lines, as they are) and give them to cpa replay instead.

Options:
  -n, --namespace NS   the CPA's namespace (default: the kubeconfig context's, else default)
  --since WHEN         only runs since then: a duration back (30m, 6h, 2d) or an RFC 3339 time
  -o, --out FILE       write the trace there (default: standard output)
  --kubeconfig PATH    kubeconfig to use`;

const replayUsage = `Usage: cpa replay [--config config.yaml] (--trace trace.jsonl | --csv load.csv) [--out chart.svg|chart.png] [--format text|json] [--root DIR] [--hooks] [--replicas N]

Runs the evaluate stage in config.yaml (your current logic: shell, http or module)
and cpa's decision (min/max, stabilisation, behavior) again over recorded runs, on
a simulated clock, so a day replays in seconds. The target follows the replayed
decisions. Prints a summary beside what was recorded (scale events, replicas,
replica-minutes, how often and how far the replay differs), and a text chart, or
draws the chart into --out. No hook runs unless --hooks, and then only the
evaluate stage's own (preEvaluate, postEvaluate).

Options:
  --config PATH       the autoscaler's config (default: config.yaml)
  --trace FILE        runs from cpa record, or your log store's export of the autoscaler's log lines
  --csv FILE          a synthetic load instead: a header "time,<metric>[,...]", then one row per run
                      (time: RFC 3339, or seconds from the start)
  -o, --out FILE      draw the chart: .svg, or .png (from a checkout: the image leaves the chart libraries out)
  --format FORMAT     text (default) or json: the summary and every run, for other tools
  --root DIR          DIR stands for the image's /, as with cpa run
  --hooks             also run preEvaluate and postEvaluate
  --replicas N        the replicas before the first run (default: the first record's, else minReplicas)
  --log-level LEVEL   the runtime's own JSON logs (default: warn)`;

export const commands: readonly Command[] = [
  {
    name: "operator",
    summary: "run the operator that provisions an autoscaler for every CustomPodAutoscaler",
    usage: operatorUsage,
    run: async (args) => (await import("./operator.ts")).runOperator(args),
  },
  {
    name: "autoscaler",
    summary: "run an autoscaler (the image's default command)",
    usage: autoscalerUsage,
    run: async (args) => (await import("./autoscaler.ts")).runAutoscalerCommand(args),
  },
  {
    name: "run",
    summary: "run an autoscaler locally against your kubeconfig, printing every stage",
    usage: runUsage,
    run: async (args) => (await import("./run.ts")).runRun(args),
  },
  {
    name: "validate",
    summary: "check an autoscaler config.yaml and print the effective configuration",
    usage: validateUsage,
    run: async (args) =>
      (await import("./validate.ts")).runValidate(
        args,
        (t) => process.stdout.write(t),
        (t) => process.stderr.write(t),
      ),
  },
  {
    name: "record",
    summary: "read a CPA's flight records (its runs and decisions) from its autoscaler's log",
    usage: recordUsage,
    run: async (args) => (await import("./record.ts")).runRecord(args),
  },
  {
    name: "replay",
    summary: "replay recorded runs (or a CSV load) through your current logic, with a summary and a chart",
    usage: replayUsage,
    run: async (args) => (await import("./replay.ts")).runReplay(args),
  },
];
