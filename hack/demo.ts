// `npm run demo`: the main job of the README. For now it brings up the local
// control plane and reports its state; the operator and autoscaler journey
// (issues #3-#5) extends it.
import { execFileSync } from "node:child_process";
import { PlaneError } from "./plane/errors.ts";
import { up } from "./plane/plane.ts";

const log = (line: string): void => {
  process.stdout.write(`${line}\n`);
};

try {
  const { state } = await up(log);
  log("");
  log(
    execFileSync("kubectl", ["get", "nodes"], {
      env: { ...process.env, KUBECONFIG: state.kubeconfig },
      encoding: "utf8",
    }),
  );
  log("The local Kubernetes control plane is up. Look around with:");
  log(`  export KUBECONFIG=${state.kubeconfig}`);
  log("  kubectl get nodes,namespaces");
  log("Stop it with: npm run cluster:down");
} catch (err) {
  if (!(err instanceof PlaneError)) throw err;
  log(`error: ${err.message}`);
  process.exitCode = 1;
}
