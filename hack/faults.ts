// The fault suite: operators and autoscalers under apiserver and etcd restarts,
// a frozen apiserver, killed and stopped leaders. It restarts control-plane
// components, so it always runs on a local plane of its own (under
// .cache/fault-cluster), never on the cluster $KUBECONFIG names. Run by
// `npm run test:faults`; extra arguments go to `node --test`.
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { cacheDir } from "./plane/config.ts";

const env: NodeJS.ProcessEnv = { ...process.env, CPA_CLUSTER_DIR: join(cacheDir, "fault-cluster") };
delete env["KUBECONFIG"];
const result = spawnSync(
  process.execPath,
  [
    "hack/with-cluster.ts",
    process.execPath,
    "--test",
    "--test-concurrency=1",
    "--test-reporter=spec",
    ...process.argv.slice(2),
    "test/faults/**/*.test.ts",
  ],
  { stdio: "inherit", env },
);
process.exitCode = result.status ?? 1;
