import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import type { V1Pod, V1PodSpec } from "@kubernetes/client-node";
import { parseAllDocuments } from "yaml";
import {
  containerName,
  effectiveSecurityContext,
  podmanRunArgs,
  runAsNonRootRefusal,
  UnsupportedPodError,
} from "./container-runner.ts";

const SA = "/var/run/secrets/kubernetes.io/serviceaccount";
const ctx = { name: "k8s_c_p_ns_1", serviceAccountDir: "/tmp/sa", server: new URL("https://127.0.0.1:6443") };

const pod = (spec: Partial<V1PodSpec>, name = "p"): V1Pod => ({
  metadata: { name, namespace: "ns", uid: "u-1" },
  spec: { containers: [{ name: "c", image: "cpa:0.1.0" }], ...spec },
});

/** The operator Deployment's Pod, as config/cluster.yaml defines it. */
function operatorPod(): V1Pod {
  const path = join(import.meta.dirname, "..", "..", "config", "cluster.yaml");
  const deployment = parseAllDocuments(readFileSync(path, "utf8"))
    .map((d) => d.toJS() as { kind?: string; spec?: { template: { spec: V1PodSpec } } })
    .find((o) => o.kind === "Deployment");
  assert.ok(deployment?.spec);
  return {
    metadata: { name: "cpa-operator-abc", namespace: "cpa-system", uid: "u-2" },
    spec: deployment.spec.template.spec,
  };
}

describe("podmanRunArgs", () => {
  test("runs the operator as its Deployment says: uid 65532, read-only root, no privileges, its args after the image", () => {
    const args = podmanRunArgs(operatorPod(), ctx);
    for (const want of [
      "--network=host",
      "--hostname=cpa-operator-abc",
      "--pull=never",
      "--user=65532:65532",
      "--read-only",
      "--read-only-tmpfs=false",
      "--security-opt=no-new-privileges",
      "--cap-drop=ALL",
      "--env=KUBERNETES_SERVICE_HOST=127.0.0.1",
      "--env=KUBERNETES_SERVICE_PORT=6443",
      "--env=POD_NAMESPACE=cpa-system",
      "--env=SERVICE_ACCOUNT_NAME=cpa-operator",
      "--env=WATCH_NAMESPACE=",
      `--volume=/tmp/sa:${SA}:ro`,
      "--label=io.kubernetes.pod.uid=u-2",
    ])
      assert.ok(args.includes(want), `${want} in ${args.join(" ")}`);
    // No command: the image's ENTRYPOINT (tini -- cpa) stays, and args replace its CMD.
    assert.ok(!args.some((a) => a.startsWith("--entrypoint")));
    assert.deepEqual(args.slice(args.indexOf("cpa:0.1.0")), [
      "cpa:0.1.0",
      "operator",
      "--leader-elect",
      "--http-address=:8080",
    ]);
  });

  test("on the Pod network: its own network and address, and the image by its full name; hostNetwork keeps the host's", () => {
    const onNet = {
      ...ctx,
      network: { name: "cpa-pods0", ip: "10.244.128.7" },
      image: "docker.io/library/cpa:0.1.0",
    };
    const args = podmanRunArgs(pod({}), onNet);
    assert.ok(args.includes("--network=cpa-pods0") && args.includes("--ip=10.244.128.7"), args.join(" "));
    assert.ok(!args.includes("--network=host"));
    assert.equal(args.at(-1), "docker.io/library/cpa:0.1.0");
    const host = podmanRunArgs(pod({ hostNetwork: true }), onNet);
    assert.ok(host.includes("--network=host") && !host.some((a) => a.startsWith("--ip=")), host.join(" "));
  });

  test("a command replaces the ENTRYPOINT, and the CMD is dropped (podman drops it with --entrypoint)", () => {
    const args = podmanRunArgs(
      pod({ containers: [{ name: "c", image: "i", command: ["cpa", "run"], args: ["--once"] }] }),
      ctx,
    );
    assert.ok(args.includes('--entrypoint=["cpa","run"]'));
    assert.deepEqual(args.slice(-2), ["i", "--once"]);
  });

  test("the Pod's env after the service variables, so the container's own win", () => {
    const args = podmanRunArgs(
      pod({
        containers: [{ name: "c", image: "i", env: [{ name: "KUBERNETES_SERVICE_HOST", value: "x" }] }],
      }),
      ctx,
    );
    const env = args.filter((a) => a.startsWith("--env=KUBERNETES_SERVICE_HOST"));
    assert.deepEqual(env, ["--env=KUBERNETES_SERVICE_HOST=127.0.0.1", "--env=KUBERNETES_SERVICE_HOST=x"]);
  });

  test("no ServiceAccount mount with automountServiceAccountToken: false; emptyDir as a tmpfs", () => {
    const args = podmanRunArgs(
      pod({
        automountServiceAccountToken: false,
        volumes: [{ name: "scratch", emptyDir: {} }],
        containers: [{ name: "c", image: "i", volumeMounts: [{ name: "scratch", mountPath: "/scratch" }] }],
      }),
      ctx,
    );
    assert.ok(!args.some((a) => a.includes(SA)));
    assert.ok(args.includes("--mount=type=tmpfs,destination=/scratch,tmpfs-mode=1777"));
  });

  test("the admission-added token volume is the ServiceAccount mount itself", () => {
    const args = podmanRunArgs(
      pod({
        volumes: [
          { name: "kube-api-access-x", projected: { sources: [{ serviceAccountToken: { path: "token" } }] } },
        ],
        containers: [{ name: "c", image: "i", volumeMounts: [{ name: "kube-api-access-x", mountPath: SA }] }],
      }),
      ctx,
    );
    assert.equal(args.filter((a) => a.includes(SA)).length, 1);
  });

  const refused: [string, Partial<V1PodSpec>, RegExp][] = [
    [
      "a hostPath volume",
      {
        volumes: [{ name: "h", hostPath: { path: "/" } }],
        containers: [{ name: "c", image: "i", volumeMounts: [{ name: "h", mountPath: "/h" }] }],
      },
      /volume h: only emptyDir/,
    ],
    [
      "envFrom",
      { containers: [{ name: "c", image: "i", envFrom: [{ configMapRef: { name: "x" } }] }] },
      /envFrom/,
    ],
    [
      "an env from a Secret",
      {
        containers: [
          {
            name: "c",
            image: "i",
            env: [{ name: "X", valueFrom: { secretKeyRef: { name: "s", key: "k" } } }],
          },
        ],
      },
      /env X/,
    ],
    [
      "a Localhost seccomp profile",
      { securityContext: { seccompProfile: { type: "Localhost", localhostProfile: "p" } } },
      /seccompProfile Localhost/,
    ],
    ["a container without an image", { containers: [{ name: "c" }] }, /no container with an image/],
  ];
  for (const [what, spec, message] of refused) {
    test(`refuses ${what}, rather than run something else`, () => {
      assert.throws(
        () => podmanRunArgs(pod(spec), ctx),
        (err: unknown) => err instanceof UnsupportedPodError && message.test(err.message),
      );
    });
  }
});

describe("effectiveSecurityContext", () => {
  test("the container's fields win over the Pod's, which fill the gaps", () => {
    assert.deepEqual(
      effectiveSecurityContext(
        { runAsUser: 1, runAsGroup: 2, runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } },
        { runAsUser: 3, readOnlyRootFilesystem: true },
      ),
      {
        runAsUser: 3,
        runAsGroup: 2,
        runAsNonRoot: true,
        seccompProfile: { type: "RuntimeDefault" },
        readOnlyRootFilesystem: true,
      },
    );
  });
});

describe("runAsNonRootRefusal", () => {
  const cases: [string, Parameters<typeof runAsNonRootRefusal>[0], string, RegExp | undefined][] = [
    ["not asked", {}, "0", undefined],
    ["a non-root runAsUser", { runAsNonRoot: true, runAsUser: 65532 }, "0", undefined],
    ["runAsUser 0", { runAsNonRoot: true, runAsUser: 0 }, "65532", /breaks non-root policy/],
    ["the image's numeric non-root USER", { runAsNonRoot: true }, "65532:65532", undefined],
    ["an image running as root", { runAsNonRoot: true }, "", /image will run as root/],
    ["an image with a user name", { runAsNonRoot: true }, "nonroot", /non-numeric user \(nonroot\)/],
  ];
  for (const [what, sc, user, refusal] of cases) {
    test(`${refusal ? "refuses" : "allows"} ${what}`, () => {
      const got = runAsNonRootRefusal(sc, user);
      if (refusal) assert.match(got ?? "", refusal);
      else assert.equal(got, undefined);
    });
  }
});

test("containerName follows dockershim's k8s_<container>_<pod>_<namespace>_<attempt>", () => {
  assert.equal(containerName(pod({}, "my.pod"), "7-1"), "k8s_c_my.pod_ns_7-1");
});
