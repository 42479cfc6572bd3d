// The local kubelet (hack/local-pods) does what a kubelet does, on the real
// plane: Pods with addresses of their own on the plane's Pod network, image
// pull policies against the plane's registry, and `kubectl logs` through the
// apiserver and the kubelet API.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, test, type TestContext } from "node:test";
import { CoreV1Api, type V1Container, type V1Pod } from "@kubernetes/client-node";
import { ContainerRunner } from "../../hack/local-pods/container-runner.ts";
import { PYTHON_IMAGE } from "../../hack/local-pods/images.ts";
import { LocalKubelet } from "../../hack/local-pods/kubelet.ts";
import { LOCAL_NODE_NAME } from "../../hack/local-pods/node.ts";
import { containerOf, ensureImages, podman } from "../support/images.ts";
import { adminConfig, eventually, kubectl, testNamespace } from "../support/kube.ts";

const admin = adminConfig();
const core = admin.makeApiClient(CoreV1Api);
const images = new ContainerRunner();
const kubelet = new LocalKubelet({ admin, images });

before(async () => {
  await ensureImages();
  await kubelet.start();
  assert.equal(
    kubelet.sharedNetwork,
    undefined,
    `local Pods would share the host's network: ${kubelet.sharedNetwork}`,
  );
  assert.ok(kubelet.registry, "the plane has no image registry: see `npm run cluster:up`'s output");
});
after(async () => {
  await kubelet.stop();
});

/** A Python HTTP server on port 5000: GET / answers the Pod's name, GET /fetch?url=U what U answers it. */
const SERVER = `
import http.server, os, socket, urllib.request
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path.startswith("/fetch?url="):
            body = urllib.request.urlopen(self.path.split("=", 1)[1], timeout=5).read()
        else:
            body = socket.gethostname().encode()
        self.send_response(200); self.end_headers(); self.wfile.write(body)
    def log_message(self, *a): pass
print("serving on", os.environ.get("POD_IP", "?"), flush=True)
http.server.HTTPServer(("", 5000), H).serve_forever()
`;

function pod(name: string, container: Partial<V1Container>, spec: Partial<V1Pod["spec"]> = {}): V1Pod {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name },
    spec: {
      nodeName: LOCAL_NODE_NAME,
      terminationGracePeriodSeconds: 2,
      containers: [{ name: "main", image: PYTHON_IMAGE, ...container }],
      ...spec,
    },
  };
}

async function create(namespace: string, p: V1Pod): Promise<void> {
  await core.createNamespacedPod({ namespace, body: p });
}

async function read(namespace: string, name: string): Promise<V1Pod> {
  return core.readNamespacedPod({ namespace, name });
}

async function waitingReason(namespace: string, name: string, reasons: string[]): Promise<V1Pod> {
  return eventually(
    `${name} waiting with ${reasons.join(" or ")}`,
    async () => {
      const p = await read(namespace, name);
      const reason = p.status?.containerStatuses?.[0]?.state?.waiting?.reason;
      return reason && reasons.includes(reason) ? p : undefined;
    },
    60_000,
  );
}

async function running(namespace: string, name: string): Promise<V1Pod> {
  return eventually(
    `${name} running`,
    async () => {
      const p = await read(namespace, name);
      return p.status?.containerStatuses?.[0]?.state?.running && p.status.podIP ? p : undefined;
    },
    60_000,
  );
}

async function get(url: string): Promise<string> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  assert.equal(res.status, 200, `GET ${url}: ${res.status}`);
  return res.text();
}

async function ok(args: string[]): Promise<string> {
  const res = await kubectl(args);
  assert.equal(res.code, 0, `kubectl ${args.join(" ")}: ${res.stderr}`);
  return res.stdout;
}

describe("the local kubelet's Pod network", () => {
  test("two Pods get addresses of their own, serve the same port, and reach each other and the host; hostNetwork keeps the host's", async (t) => {
    const namespace = await testNamespace(t);
    const server = {
      command: ["python3", "-c", SERVER],
      env: [{ name: "POD_IP", valueFrom: { fieldRef: { fieldPath: "status.podIP" } } }],
    };
    await create(namespace, pod("a", server));
    await create(namespace, pod("b", server));
    const [a, b] = [await running(namespace, "a"), await running(namespace, "b")];
    const [ipA, ipB] = [a.status?.podIP ?? "", b.status?.podIP ?? ""];
    assert.notEqual(ipA, ipB);
    for (const ip of [ipA, ipB])
      assert.match(ip, /^10\.244\.(1[2-9]\d|2[0-5]\d)\.\d+$/, "an address of the node's Pod CIDR");
    const node = await core.readNode({ name: LOCAL_NODE_NAME });
    assert.ok(
      node.spec?.podCIDR && ipA.startsWith(node.spec.podCIDR.replace(/0\/24$/, "")),
      `${ipA} is in the node's podCIDR ${node.spec?.podCIDR ?? "(none)"}`,
    );
    assert.equal(a.status?.hostIP, kubelet.nodeIP);
    // From the host, each on its own address, port 5000 on both.
    await eventually("both answer from the host", async () => {
      const names = await Promise.all([ipA, ipB].map((ip) => get(`http://${ip}:5000/`).catch(() => "")));
      return names[0] === "a" && names[1] === "b" ? true : undefined;
    });
    // From one Pod to the other.
    assert.equal(await get(`http://${ipA}:5000/fetch?url=http://${ipB}:5000/`), "b");
    assert.equal(await get(`http://${ipB}:5000/fetch?url=http://${ipA}:5000/`), "a");
    // From a Pod to the host: a server on the node's address.
    const { createServer } = await import("node:http");
    const host = createServer((_, res) => res.end("host"));
    await new Promise<void>((resolve) => host.listen(0, kubelet.nodeIP, resolve));
    t.after(
      () =>
        new Promise<void>((resolve) =>
          host.close(() => {
            resolve();
          }),
        ),
    );
    const port = (host.address() as { port: number }).port;
    assert.equal(await get(`http://${ipA}:5000/fetch?url=http://${kubelet.nodeIP}:${port}/`), "host");
    // From the apiserver: its proxy refuses loopback Pod IPs, so this shows the address is a real one.
    assert.equal(
      (await ok(["get", "--raw", `/api/v1/namespaces/${namespace}/pods/a:5000/proxy/`])).trim(),
      "a",
    );
    // The downward API's status.podIP is the Pod's own address.
    await eventually("the Pod's log to name its address", async () =>
      (await ok(["logs", "-n", namespace, "a"])).includes(`serving on ${ipA}`) ? true : undefined,
    );

    await create(namespace, pod("host", { command: ["sleep", "600"] }, { hostNetwork: true }));
    const h = await running(namespace, "host");
    assert.equal(h.status?.podIP, kubelet.nodeIP, "a hostNetwork Pod has the node's address");
  });
});

describe("the local kubelet's image pulls", () => {
  const tag = (): string => `pulltest-${randomBytes(4).toString("hex")}`;
  const push = async (image: string): Promise<void> => {
    const res = await podman("push", "--tls-verify=false", PYTHON_IMAGE, image);
    assert.equal(res.code, 0, res.stderr);
  };
  const sleeper = (image: string, imagePullPolicy: string): Partial<V1Container> => ({
    image,
    imagePullPolicy,
    command: ["sleep", "600"],
  });
  const events = async (namespace: string, name: string): Promise<string[]> => {
    const list = await core.listNamespacedEvent({ namespace, fieldSelector: `involvedObject.name=${name}` });
    return list.items.map((e) => `${e.reason ?? ""}: ${e.message ?? ""}`);
  };
  const removeLocal = async (t: TestContext, image: string): Promise<void> => {
    t.after(async () => {
      await podman("rmi", "--force", image);
    });
    await podman("rmi", "--force", image);
  };

  test("IfNotPresent pulls an image absent from the node from the plane's registry, and runs it", async (t) => {
    const namespace = await testNamespace(t);
    const image = `${kubelet.registry ?? ""}/cpa-python:${tag()}`;
    await push(image);
    await removeLocal(t, image);
    await create(namespace, pod("pulled", sleeper(image, "IfNotPresent")));
    await running(namespace, "pulled");
    assert.equal((await podman("image", "exists", image)).code, 0, "the pulled image is in the node's store");
    const seen = await events(namespace, "pulled");
    assert.ok(
      seen.some((e) => e.startsWith(`Pulling: Pulling image "${image}"`)),
      seen.join("\n"),
    );
    assert.ok(
      seen.some((e) => e.startsWith(`Pulled: Successfully pulled image "${image}"`)),
      seen.join("\n"),
    );
  });

  test("Never refuses an image absent from the node: ErrImageNeverPull", async (t) => {
    const namespace = await testNamespace(t);
    const image = `${kubelet.registry ?? ""}/cpa-python:${tag()}`;
    await push(image);
    await removeLocal(t, image);
    await create(namespace, pod("never", sleeper(image, "Never")));
    const p = await waitingReason(namespace, "never", ["ErrImageNeverPull"]);
    assert.equal(
      p.status?.containerStatuses?.[0]?.state?.waiting?.message,
      `Container image "${image}" is not present with pull policy of Never`,
    );
    assert.notEqual((await podman("image", "exists", image)).code, 0, "nothing was pulled");
  });

  test("Always backs off while the image is missing (ErrImagePull, ImagePullBackOff) and runs once it is pushed", async (t) => {
    const namespace = await testNamespace(t);
    const image = `${kubelet.registry ?? ""}/cpa-python:${tag()}`;
    await create(namespace, pod("later", sleeper(image, "Always")));
    const failed = await waitingReason(namespace, "later", ["ErrImagePull"]);
    assert.match(
      failed.status?.containerStatuses?.[0]?.state?.waiting?.message ?? "",
      /failed to pull image/,
    );
    const backOff = await waitingReason(namespace, "later", ["ImagePullBackOff"]);
    assert.match(
      backOff.status?.containerStatuses?.[0]?.state?.waiting?.message ?? "",
      new RegExp(`^Back-off pulling image "${image.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}": ErrImagePull: `),
    );
    const described = await ok(["describe", "pod", "-n", namespace, "later"]);
    assert.match(described, /Failed\s.*Failed to pull image/);
    assert.match(described, /BackOff\s.*Back-off pulling image/);
    await push(image);
    t.after(async () => {
      await podman("rmi", "--force", image);
    });
    await running(namespace, "later");
  });

  test("Always of an image only in the node's store fails as on a real node after `kind load`; pushed to the docker.io mirror, it runs", async (t) => {
    const namespace = await testNamespace(t);
    // cpa-python:latest, built into the store as `npm run image` (like `kind load`) puts it.
    const image = `cpa-python:${tag()}`;
    await images.tag(PYTHON_IMAGE, image);
    t.after(async () => {
      await podman("rmi", "--force", `docker.io/library/${image}`);
    });
    await create(namespace, pod("kind-load", sleeper(image, "Always")));
    const p = await waitingReason(namespace, "kind-load", ["ErrImagePull", "ImagePullBackOff"]);
    assert.match(
      p.status?.containerStatuses?.[0]?.state?.waiting?.message ?? "",
      new RegExp(`docker\\.io is mirrored here by the local plane's registry, which has no library/${image}`),
    );
    // The same image with IfNotPresent runs from the store.
    await create(namespace, pod("kind-load-ifnotpresent", sleeper(image, "IfNotPresent")));
    await running(namespace, "kind-load-ifnotpresent");
    // Pushed where the mirror serves docker.io's library/ (the kubelet's back-off retries), Always runs it.
    await push(`${kubelet.registry ?? ""}/library/${image}`);
    t.after(async () => {
      await podman("rmi", "--force", `${kubelet.registry ?? ""}/library/${image}`);
    });
    await running(namespace, "kind-load");
  });

  test("an image of a registry it cannot reach is not one it runs: simulated as running, as kwok does", async (t) => {
    const namespace = await testNamespace(t);
    await create(namespace, pod("elsewhere", sleeper("ghcr.io/example/app:1", "Always")));
    const p = await running(namespace, "elsewhere");
    assert.equal(await containerOf(p.metadata?.uid ?? ""), undefined, "a container runs it");
  });
});

describe("kubectl logs of a local Pod", () => {
  test("shows its output, follows it to the end, and --previous shows the run before a restart", async (t) => {
    const namespace = await testNamespace(t);
    // Prints a line a second, five in all, then exits 3: restarted by restartPolicy Always.
    const script = 'for i in 1 2 3 4 5; do echo "line $i of run $RUN"; sleep 1; done; echo oops >&2; exit 3';
    await create(
      namespace,
      pod("talker", {
        image: PYTHON_IMAGE,
        command: ["sh", "-c", `RUN=$(date +%s%N); ${script}`],
      }),
    );
    await running(namespace, "talker");
    // -f: streams until the container exits, with what it printed on both streams.
    const followed = await ok(["logs", "-f", "-n", namespace, "talker"]);
    const lines = followed.trimEnd().split("\n");
    assert.deepEqual(
      lines.map((l) => l.replace(/run \d+/, "run N")),
      [1, 2, 3, 4, 5].map((i) => `line ${i} of run N`).concat("oops"),
    );
    const firstRun = /run (\d+)/.exec(followed)?.[1];
    // After the restart, --previous is the first run and the current log is another.
    const restarted = await eventually(
      "the container to run again",
      async () => {
        const p = await read(namespace, "talker");
        const s = p.status?.containerStatuses?.[0];
        return (s?.restartCount ?? 0) >= 1 && s?.state?.running ? p : undefined;
      },
      60_000,
    );
    assert.ok(restarted);
    const previous = await ok(["logs", "--previous", "-n", namespace, "talker"]);
    assert.equal(/run (\d+)/.exec(previous)?.[1], firstRun);
    assert.match(previous, /oops\n$/);
    const current = await eventually("the second run's first line", async () => {
      const out = await ok(["logs", "-n", namespace, "talker"]);
      return out.includes("line 1") ? out : undefined;
    });
    assert.notEqual(/run (\d+)/.exec(current)?.[1], firstRun);
    // --tail and --timestamps, as a kubelet answers them.
    const tail = await ok(["logs", "--previous", "--tail=2", "--timestamps", "-n", namespace, "talker"]);
    const tailLines = tail.trimEnd().split("\n");
    assert.equal(tailLines.length, 2);
    assert.match(tailLines[0] ?? "", /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z line 5 of run \d+$/);
    assert.match(tailLines[1] ?? "", /Z oops$/);
    // --since: a window that ends before the run began shows nothing of an old run.
    assert.equal(await ok(["logs", "--previous", "--since=1s", "-n", namespace, "talker"]), "");
  });

  test("says why when there is nothing to show", async (t) => {
    const namespace = await testNamespace(t);
    await create(namespace, pod("quiet", { command: ["sleep", "600"] }));
    await running(namespace, "quiet");
    const res = await kubectl(["logs", "--previous", "-n", namespace, "quiet"]);
    assert.notEqual(res.code, 0);
    assert.match(res.stderr, /previous terminated container "main" in pod "quiet" not found/);
  });
});
