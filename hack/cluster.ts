// The local test control plane: `node hack/cluster.ts up|down|status|build`.
// `up` prints progress on stderr and `export KUBECONFIG=...` as its last line on stdout.
import { ensureBinaries } from "./plane/build.ts";
import { PlaneError } from "./plane/errors.ts";
import { deadProcesses, down, isHealthy, readState, up } from "./plane/plane.ts";

const log = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

async function main(command: string | undefined): Promise<number> {
  switch (command) {
    case "up": {
      const { state, started } = await up(log);
      // A plane already running said these when it started: say them again.
      if (!started && state.registry && "address" in state.registry)
        log(
          `Image registry on ${state.registry.address} (push with: podman push --tls-verify=false IMAGE ${state.registry.address}/NAME:TAG)`,
        );
      process.stdout.write(`export KUBECONFIG=${state.kubeconfig}\n`);
      return 0;
    }
    case "down":
      await down(log);
      return 0;
    case "build":
      if (!ensureBinaries(log)) log("The control plane binaries are already built.");
      return 0;
    case "status":
      return status();
    default:
      log("usage: node hack/cluster.ts <up|down|status|build>");
      return 2;
  }
}

async function status(): Promise<number> {
  const state = readState();
  if (!state) {
    log("No control plane is running (start one with `npm run cluster:up`).");
    return 1;
  }
  const healthy = await isHealthy(state);
  const dead = deadProcesses(state);
  log(`Control plane at ${state.server}: ${healthy ? "ready" : "NOT ready"}`);
  for (const p of state.processes)
    log(`  ${p.name.padEnd(24)} pid ${p.pid}${dead.includes(p.name) ? " (not running)" : ""}`);
  const net = state.podNetwork;
  if (net)
    log(`  Pod network: ${"bridge" in net ? `${net.cidr} on ${net.bridge}` : `none (${net.unavailable})`}`);
  const reg = state.registry;
  if (reg) log(`  registry: ${"address" in reg ? reg.address : `none (${reg.unavailable})`}`);
  process.stdout.write(`export KUBECONFIG=${state.kubeconfig}\n`);
  return healthy ? 0 : 1;
}

try {
  process.exitCode = await main(process.argv[2]);
} catch (err) {
  if (!(err instanceof PlaneError)) throw err;
  log(`error: ${err.message}`);
  process.exitCode = 1;
}
