// The local plane's Pod network: what a CNI plugin and kube-proxy give a real
// node, for the Pods the local kubelet runs as containers.
//
// - A Linux bridge with the node's Pod CIDR (one /24 of 10.244.128.0/17; the
//   kwok node's fake Pods take 10.244.0.0/17), its first address on the host:
//   the node's InternalIP, where the kubelet API listens. Each Pod gets an
//   address of its own on it (podman's CNI bridge plugin, from Debian: the
//   network backend podman 4.3 uses there, so nothing else is installed), so
//   Pods reach each other, the host and the apiserver, and the host (and the
//   apiserver) reach them.
// - Nothing leaves the machine: no masquerade, the bridge is not made a router
//   (the CNI plugin's isGateway would turn on IP forwarding for the whole
//   machine), and an iptables rule drops anything forwarded from the bridge to
//   another interface, should forwarding be on for other reasons.
// - The `kubernetes` Service: 10.96.0.1:443 from a Pod is DNATed to the
//   apiserver on 127.0.0.1 (route_localnet lets loopback be a destination for
//   traffic from the bridge), so Pods get KUBERNETES_SERVICE_HOST=10.96.0.1 as
//   in any cluster.
//
// Needs root and `ip` and `iptables`; without them the plane has no Pod
// network and says why (the local kubelet then runs Pods on the host's).
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** The first address of the Service CIDR (--service-cluster-ip-range): the `kubernetes` Service. */
export const KUBERNETES_SERVICE_IP = "10.96.0.1";
/** The port the kubelet API listens on, on the node's address, as on any node. */
export const KUBELET_PORT = 10250;

export interface PodNetwork {
  /** The bridge's interface name, also the podman network's name. */
  bridge: string;
  /** The node's Pod CIDR, a /24. */
  cidr: string;
  /** The bridge's address on the host: the node's InternalIP. */
  gateway: string;
  /** The apiserver's port on 127.0.0.1, which the `kubernetes` Service leads to. */
  apiPort: number;
}

export type PodNetworkState = PodNetwork | { unavailable: string };

export const hasPodNetwork = (n: PodNetworkState | undefined): n is PodNetwork =>
  n !== undefined && "bridge" in n;

/** The network of slot `index` (0-127): its bridge name and addresses. Pure. */
export function podNetworkAt(index: number, apiPort: number): PodNetwork {
  const octet = 128 + index;
  return { bridge: `cpa-pods${index}`, cidr: `10.244.${octet}.0/24`, gateway: `10.244.${octet}.1`, apiPort };
}

/** The Pod addresses of a network, in the order they are handed out: .2 to .254. Pure. */
export function podAddresses(net: PodNetwork): string[] {
  const prefix = net.gateway.slice(0, net.gateway.lastIndexOf("."));
  return Array.from({ length: 253 }, (_, i) => `${prefix}.${i + 2}`);
}

/** Where host-local records the addresses it has handed out on a network (one file per address). */
export function reservedAddressesDir(net: PodNetwork, containersDir: string): string {
  return join(networkFiles(containersDir).ipam(net), net.bridge);
}

/** The CNI network list podman reads for this network. Pure. */
export function cniConfig(net: PodNetwork, ipamDir: string): object {
  return {
    cniVersion: "0.4.0",
    name: net.bridge,
    plugins: [
      {
        type: "bridge",
        bridge: net.bridge,
        // The gateway address is ours (createPodNetwork); isGateway would also turn on ip_forward.
        isGateway: false,
        // No masquerade: Pod traffic never leaves the machine.
        ipMasq: false,
        hairpinMode: true,
        ipam: {
          type: "host-local",
          ranges: [[{ subnet: net.cidr, gateway: net.gateway }]],
          routes: [{ dst: "0.0.0.0/0" }],
          dataDir: ipamDir,
        },
      },
    ],
  };
}

/** The iptables rule that makes the `kubernetes` Service, as arguments after -A/-D. Pure. */
export function serviceRule(net: PodNetwork): string[] {
  return [
    "PREROUTING",
    "-t",
    "nat",
    "-i",
    net.bridge,
    "-d",
    `${KUBERNETES_SERVICE_IP}/32`,
    "-p",
    "tcp",
    "--dport",
    "443",
    "-m",
    "comment",
    "--comment",
    `cpa local plane: the kubernetes Service of ${net.bridge}`,
    "-j",
    "DNAT",
    "--to-destination",
    `127.0.0.1:${net.apiPort}`,
  ];
}

/** The iptables rule that keeps Pod traffic on this machine: nothing forwarded off the bridge. Pure. */
export function isolationRule(net: PodNetwork): string[] {
  return [
    "FORWARD",
    "-i",
    net.bridge,
    "!",
    "-o",
    net.bridge,
    "-m",
    "comment",
    "--comment",
    `cpa local plane: ${net.bridge} traffic stays on this machine`,
    "-j",
    "DROP",
  ];
}

/**
 * The numbers, highest first, of the rules in an `iptables -L CHAIN
 * --line-numbers -n` listing that carry comment: rules a killed plane left for
 * the bridge a new plane now takes (a stale DNAT to a dead apiserver port
 * would win over the new one). Pure.
 */
export function ruleNumbersWithComment(listing: string, comment: string): number[] {
  return listing
    .split("\n")
    .filter((line) => line.includes(`/* ${comment} */`))
    .map((line) => Number.parseInt(line, 10))
    .filter((n) => Number.isInteger(n))
    .sort((a, b) => b - a);
}

const commentOf = (rule: readonly string[]): string => rule[rule.indexOf("--comment") + 1] ?? "";

/** Deletes the rules left in rule's chain (and table) with rule's comment. */
function removeStale(rule: readonly string[]): void {
  const [chain = ""] = rule;
  const table = rule[1] === "-t" ? ["-t", rule[2] ?? "filter"] : [];
  const listing = run("iptables", [...table, "-L", chain, "--line-numbers", "-n"]);
  if (!listing.ok) return;
  for (const n of ruleNumbersWithComment(listing.out, commentOf(rule)))
    run("iptables", [...table, "-D", chain, String(n)]);
}

function run(command: string, args: string[]): { ok: boolean; out: string } {
  const res = spawnSync(command, args, { encoding: "utf8" });
  if (res.error) return { ok: false, out: res.error.message };
  return { ok: res.status === 0, out: `${res.stdout}${res.stderr}`.trim() };
}

function must(command: string, args: string[]): void {
  const res = run(command, args);
  if (!res.ok) throw new Error(`${command} ${args.join(" ")}: ${res.out}`);
}

/** Where podman finds the plane's networks (containers.conf network_config_dir). */
export const networkFiles = (containersDir: string) => ({
  dir: join(containersDir, "networks"),
  conf: (net: PodNetwork) => join(containersDir, "networks", `${net.bridge}.conflist`),
  ipam: (net: PodNetwork) => join(containersDir, "networks", "ipam", net.bridge),
});

/** Why this machine cannot have a Pod network, or undefined when it can. */
export function podNetworkUnavailable(): string | undefined {
  if (process.platform !== "linux") return "Pod networks need Linux";
  if (process.getuid?.() !== 0) return "Pod networks need root (a bridge, addresses and an iptables rule)";
  for (const tool of ["ip", "iptables"])
    if (!run(tool, ["-V"]).ok && !run(tool, ["--version"]).ok)
      return `\`${tool}\` is not installed (Debian: apt-get install ${tool === "ip" ? "iproute2" : "iptables"})`;
  return undefined;
}

/**
 * Makes the network of the first free slot: the bridge with its address, the
 * `kubernetes` Service rule and podman's network file.
 */
export function createPodNetwork(apiPort: number, containersDir: string): PodNetworkState {
  const unavailable = podNetworkUnavailable();
  if (unavailable) return { unavailable };
  const files = networkFiles(containersDir);
  for (let index = 0; index < 128; index++) {
    const net = podNetworkAt(index, apiPort);
    // Taken by another plane (or it took it a moment ago): the next slot.
    if (!run("ip", ["link", "add", net.bridge, "type", "bridge"]).ok) continue;
    try {
      must("ip", ["addr", "add", `${net.gateway}/24`, "dev", net.bridge]);
      must("ip", ["link", "set", net.bridge, "up"]);
      must("sysctl", ["-q", "-w", `net.ipv4.conf.${net.bridge}.route_localnet=1`]);
      // The bridge was free, so any rule of its name is a killed plane's: it goes first.
      removeStale(serviceRule(net));
      removeStale(isolationRule(net));
      must("iptables", ["-A", ...serviceRule(net)]);
      must("iptables", ["-I", ...isolationRule(net)]);
      mkdirSync(files.dir, { recursive: true });
      rmSync(files.ipam(net), { recursive: true, force: true });
      writeFileSync(files.conf(net), JSON.stringify(cniConfig(net, files.ipam(net)), null, 2) + "\n");
      return net;
    } catch (err) {
      removePodNetwork(net, containersDir);
      return {
        unavailable: `could not make the Pod network: ${err instanceof Error ? err.message : String(err)}`,
      };
    }
  }
  return { unavailable: "all 128 local Pod networks (bridges cpa-pods0 to cpa-pods127) are in use" };
}

/** Removes what createPodNetwork made; safe to call on a half-made or gone network. */
export function removePodNetwork(net: PodNetwork, containersDir: string): void {
  const files = networkFiles(containersDir);
  while (run("iptables", ["-D", ...serviceRule(net)]).ok);
  while (run("iptables", ["-D", ...isolationRule(net)]).ok);
  run("ip", ["link", "del", net.bridge]);
  if (existsSync(files.conf(net))) rmSync(files.conf(net), { force: true });
  rmSync(files.ipam(net), { recursive: true, force: true });
}
