// Runs a command against a Kubernetes cluster and returns its exit code:
//   - KUBECONFIG set: that cluster (kind, k3d, a real one, or a plane from `npm run cluster:up`);
//   - otherwise the local control plane, started (or reused) here. A plane this run
//     started is torn down afterwards, unless CPA_KEEP_CLUSTER=1.
// Never skips: if no cluster can be had, it fails and says why.
import { spawn } from "node:child_process";
import { PlaneError } from "./plane/errors.ts";
import { down, up } from "./plane/plane.ts";

const log = (line: string): void => {
  process.stderr.write(`[cluster] ${line}\n`);
};

async function run(argv: string[]): Promise<number> {
  const [command, ...args] = argv;
  if (!command) {
    log("usage: node hack/with-cluster.ts <command> [args...]");
    return 2;
  }
  let ownPlane = false;
  let kubeconfig = process.env["KUBECONFIG"];
  if (kubeconfig) {
    log(`Using the cluster KUBECONFIG names: ${kubeconfig}`);
  } else {
    const { started, state } = await up(log);
    ownPlane = started && process.env["CPA_KEEP_CLUSTER"] !== "1";
    kubeconfig = state.kubeconfig;
  }
  const child = spawn(command, args, { stdio: "inherit", env: { ...process.env, KUBECONFIG: kubeconfig } });
  const forward = (sig: NodeJS.Signals): void => {
    child.kill(sig);
  };
  process.on("SIGINT", forward).on("SIGTERM", forward);
  const code = await new Promise<number>((resolve) => {
    child.on("exit", (c, sig) => {
      resolve(c ?? (sig ? 128 : 1));
    });
    child.on("error", (err) => {
      log(`could not run ${command}: ${err.message}`);
      resolve(127);
    });
  });
  if (ownPlane) {
    await down(log);
  } else if (!process.env["KUBECONFIG"]) {
    log(`Left the control plane running: export KUBECONFIG=${kubeconfig}`);
  }
  return code;
}

try {
  process.exitCode = await run(process.argv.slice(2));
} catch (err) {
  if (!(err instanceof PlaneError)) throw err;
  log(`error: the test control plane could not start, so no integration test ran.\n${err.message}`);
  process.exitCode = 1;
}
