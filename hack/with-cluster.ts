// Runs a command against a Kubernetes cluster and returns its exit code:
//   - KUBECONFIG set: that cluster (kind, k3d, a real one, or a plane from `npm run cluster:up`);
//   - otherwise the local control plane, started (or reused) here. A plane this run
//     started is torn down afterwards, unless CPA_KEEP_CLUSTER=1.
// Never skips: if no cluster can be had, it fails and says why.
import { spawn } from "node:child_process";
import { PlaneError } from "./plane/errors.ts";
import { useCluster } from "./plane/plane.ts";

const log = (line: string): void => {
  process.stderr.write(`[cluster] ${line}\n`);
};

async function run(argv: string[]): Promise<number> {
  const [command, ...args] = argv;
  if (!command) {
    log("usage: node hack/with-cluster.ts <command> [args...]");
    return 2;
  }
  const { kubeconfig, release } = await useCluster(log);
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
  await release();
  return code;
}

try {
  process.exitCode = await run(process.argv.slice(2));
} catch (err) {
  if (!(err instanceof PlaneError)) throw err;
  log(`error: the test control plane could not start, so no integration test ran.\n${err.message}`);
  process.exitCode = 1;
}
