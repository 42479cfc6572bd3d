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
  --namespace NS                     watch only this namespace (default: $WATCH_NAMESPACE, else all)
  --leader-elect                     run leader election, so only one replica reconciles
  --leader-election-namespace NS     namespace of the Lease (default: $POD_NAMESPACE, else default)
  --leader-election-id NAME          name of the Lease (default: cpa-operator)
  --leader-election-lease-duration D how long a Lease lasts unrenewed before a standby takes it (default: 15s)
  --leader-election-renew-deadline D how long the leader retries renewing before it steps down (default: 10s)
  --leader-election-retry-period D   how often candidates try, and the leader renews (default: 2s)
  --http-address HOST:PORT           /metrics, /healthz and /readyz (default: :8080; "0" disables)
  --workers N                        concurrent reconciles (default: 4)
  --resync DURATION                  how often every CPA is checked again (default: 10m)
  --log-level LEVEL                  trace, debug, info, warn, error (default: info, or $LOG_LEVEL)`;

export const commands: readonly Command[] = [
  {
    name: "operator",
    summary: "run the operator that provisions an autoscaler for every CustomPodAutoscaler",
    usage: operatorUsage,
    run: async (args) => (await import("./operator.ts")).runOperator(args),
  },
];
