// The node the local kubelet is the kubelet of. kwok manages only nodes
// labelled type=kwok, so it never writes the status of the Pods scheduled
// here: the local kubelet is their one writer. While it runs, the kwok node is
// cordoned, so new Pods land here; stopping gives it back.
import type { KubeConfig } from "@kubernetes/client-node";
import { KubeHttp } from "../../src/kube/http.ts";
import { microTime } from "../../src/kube/leader-election.ts";
import { FAKE_NODE_NAME, LOCAL_NODE_NAME } from "../plane/config.ts";

export { LOCAL_NODE_NAME };
/** How often the node reports it is alive (its Lease and its Ready condition). */
const HEARTBEAT_MS = 10_000;

const NODE = `/api/v1/nodes/${LOCAL_NODE_NAME}`;
const LEASES = "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases";
const MERGE = "application/strategic-merge-patch+json";

/** Where the node is: its address (the kubelet API's too), the kubelet's port and its Pod CIDR. */
export interface NodeAddress {
  ip: string;
  kubeletPort: number;
  podCIDR?: string | undefined;
}

export class LocalNode {
  readonly #http: KubeHttp;
  #timer: NodeJS.Timeout | undefined;
  #where: NodeAddress = { ip: "127.0.0.1", kubeletPort: 0 };

  constructor(admin: KubeConfig) {
    this.#http = new KubeHttp(admin);
  }

  /**
   * Registers the node (again, if a previous run left one) with its address,
   * Pod CIDR and kubelet port, reports it Ready, and cordons the kwok node.
   */
  async register(where: NodeAddress): Promise<void> {
    this.#where = where;
    await this.#http.request("DELETE", NODE).catch(() => undefined);
    const resources = { cpu: "64", memory: "256Gi", pods: "1000" };
    await this.#http.request("POST", "/api/v1/nodes", {
      body: {
        apiVersion: "v1",
        kind: "Node",
        metadata: {
          name: LOCAL_NODE_NAME,
          labels: {
            "kubernetes.io/hostname": LOCAL_NODE_NAME,
            "kubernetes.io/os": "linux",
            "kubernetes.io/arch": "amd64",
          },
        },
        spec: where.podCIDR ? { podCIDR: where.podCIDR, podCIDRs: [where.podCIDR] } : {},
        status: { capacity: resources, allocatable: resources },
      },
    });
    await this.#heartbeat();
    this.#timer = setInterval(() => {
      this.#heartbeat().catch(() => undefined);
    }, HEARTBEAT_MS);
    await this.#cordonKwok(true);
  }

  /** Gives the kwok node back and removes ours (Pods still bound to it are deleted at once). */
  async unregister(): Promise<void> {
    clearInterval(this.#timer);
    await this.#cordonKwok(false).catch(() => undefined);
    const pods = await this.#http.request<{ items: { metadata: { name: string; namespace: string } }[] }>(
      "GET",
      "/api/v1/pods",
      { query: { fieldSelector: `spec.nodeName=${LOCAL_NODE_NAME}` } },
    );
    await Promise.all(
      pods.items.map((p) =>
        this.#http
          .request("DELETE", `/api/v1/namespaces/${p.metadata.namespace}/pods/${p.metadata.name}`, {
            body: { kind: "DeleteOptions", apiVersion: "v1", gracePeriodSeconds: 0 },
          })
          .catch(() => undefined),
      ),
    );
    await this.#http.request("DELETE", NODE).catch(() => undefined);
    await this.#http.request("DELETE", `${LEASES}/${LOCAL_NODE_NAME}`).catch(() => undefined);
  }

  async #heartbeat(): Promise<void> {
    const now = new Date().toISOString();
    const conditions = [
      ["Ready", "True", "KubeletReady", "the local kubelet is posting ready status"],
      ["MemoryPressure", "False", "KubeletHasSufficientMemory", ""],
      ["DiskPressure", "False", "KubeletHasNoDiskPressure", ""],
      ["PIDPressure", "False", "KubeletHasSufficientPID", ""],
    ].map(([type, status, reason, message]) => ({
      type,
      status,
      reason,
      message,
      lastHeartbeatTime: now,
      lastTransitionTime: now,
    }));
    await this.#http.request("PATCH", `${NODE}/status`, {
      body: {
        status: {
          conditions,
          addresses: [
            { type: "InternalIP", address: this.#where.ip },
            { type: "Hostname", address: LOCAL_NODE_NAME },
          ],
          daemonEndpoints: { kubeletEndpoint: { Port: this.#where.kubeletPort } },
        },
      },
      contentType: MERGE,
    });
    const spec = {
      holderIdentity: LOCAL_NODE_NAME,
      leaseDurationSeconds: 40,
      renewTime: microTime(Date.now()),
    };
    await this.#http
      .request("PATCH", `${LEASES}/${LOCAL_NODE_NAME}`, { body: { spec }, contentType: MERGE })
      .catch(() =>
        this.#http.request("POST", LEASES, {
          body: {
            apiVersion: "coordination.k8s.io/v1",
            kind: "Lease",
            metadata: { name: LOCAL_NODE_NAME },
            spec,
          },
        }),
      );
  }

  async #cordonKwok(cordon: boolean): Promise<void> {
    await this.#http.request("PATCH", `/api/v1/nodes/${FAKE_NODE_NAME}`, {
      body: { spec: { unschedulable: cordon } },
      contentType: MERGE,
    });
  }
}
