// Runs a Pod's container for real, with podman, from an image in the project's
// store (built by hack/image): as a kubelet would, with the container's
// command/args and env, its securityContext (user, runAsNonRoot, read-only root
// filesystem, capabilities, no-new-privileges, seccomp), the ServiceAccount
// token, CA and namespace at /var/run/secrets/kubernetes.io/serviceaccount
// (mode 0644, as a kubelet writes them, so a non-root user reads them), and the
// apiserver as KUBERNETES_SERVICE_HOST/PORT. With the plane's Pod network
// (hack/plane/pod-network.ts) each Pod has its own network namespace and
// address, and reaches the apiserver as the `kubernetes` Service
// (10.96.0.1:443); hostNetwork Pods, and every Pod without that network, share
// the host's and reach it on 127.0.0.1.
//
// The same shape as runPodLocally's LocalProcess: the local kubelet runs Pods
// with either (see runner.ts).
import { spawn } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type {
  KubeConfig,
  V1Container,
  V1Pod,
  V1PodSecurityContext,
  V1SecurityContext,
} from "@kubernetes/client-node";
import { buildUserImage } from "../image/build.ts";
import { containersEnv, imageExists, mustTool, tool } from "../image/containers.ts";
import { KUBERNETES_SERVICE_IP } from "../plane/pod-network.ts";
import { fullImageName } from "./image-ref.ts";
import {
  fieldRef,
  captureOutput,
  exitedWithOutput,
  podCredentials,
  SA_DIR,
  type Credentials,
  type LocalProcess,
  type RunOptions,
} from "./pod-runner.ts";
import type { PodRunner } from "./runner.ts";

/** Every container this module starts carries it, so leftovers of a killed run can be found. */
export const LOCAL_POD_LABEL = "dev.cpa.local-pod";

export class UnsupportedPodError extends Error {
  override readonly name = "UnsupportedPodError";
}

export interface ContainerContext {
  /** A container name unique to this start of the Pod. */
  name: string;
  /** The host directory holding the ServiceAccount's token, ca.crt and namespace. */
  serviceAccountDir: string;
  /** The apiserver, as the Pod reaches it. */
  server: URL;
  /** The Pod's network and address; the host's when absent. */
  network?: { name: string; ip: string } | undefined;
  /** The image's full name; the Pod's `image` when absent. */
  image?: string | undefined;
}

/** The securityContext that applies to a container: its own fields over the Pod's. */
export function effectiveSecurityContext(
  pod: V1PodSecurityContext | undefined,
  container: V1SecurityContext | undefined,
): V1SecurityContext {
  const sc: V1SecurityContext = Object.assign({}, container);
  const p: V1PodSecurityContext = pod ?? {};
  if (p.runAsUser !== undefined) sc.runAsUser ??= p.runAsUser;
  if (p.runAsGroup !== undefined) sc.runAsGroup ??= p.runAsGroup;
  if (p.runAsNonRoot !== undefined) sc.runAsNonRoot ??= p.runAsNonRoot;
  if (p.seccompProfile !== undefined) sc.seccompProfile ??= p.seccompProfile;
  return sc;
}

/**
 * The kubelet's runAsNonRoot check, against the image's USER when the Pod sets
 * no runAsUser: the reason the container may not start, or undefined.
 */
export function runAsNonRootRefusal(sc: V1SecurityContext, imageUser: string): string | undefined {
  if (!sc.runAsNonRoot) return undefined;
  if (sc.runAsUser !== undefined)
    return sc.runAsUser === 0 ? "container's runAsUser breaks non-root policy" : undefined;
  const user = imageUser.split(":")[0] ?? "";
  if (user === "" || user === "0" || user === "root")
    return "container has runAsNonRoot and image will run as root";
  if (!/^\d+$/.test(user))
    return `container has runAsNonRoot and image has non-numeric user (${user}), cannot verify user is non-root`;
  return undefined;
}

function userArgs(sc: V1SecurityContext): string[] {
  if (sc.runAsUser !== undefined)
    return [`--user=${sc.runAsUser}${sc.runAsGroup === undefined ? "" : `:${sc.runAsGroup}`}`];
  if (sc.runAsGroup !== undefined)
    throw new UnsupportedPodError("runAsGroup without runAsUser is not supported by the local kubelet");
  return [];
}

function seccompArgs(sc: V1SecurityContext): string[] {
  const type = sc.seccompProfile?.type;
  switch (type) {
    case undefined:
    case "RuntimeDefault":
      // podman's default profile is the runtime default.
      return [];
    case "Unconfined":
      return ["--security-opt=seccomp=unconfined"];
    default:
      throw new UnsupportedPodError(`seccompProfile ${type} is not supported by the local kubelet`);
  }
}

function securityArgs(sc: V1SecurityContext): string[] {
  return [
    ...userArgs(sc),
    // podman mounts writable tmpfs on /tmp, /run and /var/tmp unless told not to; Kubernetes does not.
    ...(sc.readOnlyRootFilesystem ? ["--read-only", "--read-only-tmpfs=false"] : []),
    ...(sc.allowPrivilegeEscalation === false ? ["--security-opt=no-new-privileges"] : []),
    ...(sc.privileged ? ["--privileged"] : []),
    ...(sc.capabilities?.drop ?? []).map((cap) => `--cap-drop=${cap}`),
    ...(sc.capabilities?.add ?? []).map((cap) => `--cap-add=${cap}`),
    ...seccompArgs(sc),
  ];
}

function envArgs(pod: V1Pod, container: V1Container, server: URL): string[] {
  if (container.envFrom?.length)
    throw new UnsupportedPodError("envFrom is not supported by the local kubelet");
  // As a kubelet: the service variables first, then the container's own, which win.
  const env: [string, string][] = [
    ["KUBERNETES_SERVICE_HOST", server.hostname],
    ["KUBERNETES_SERVICE_PORT", server.port || "443"],
  ];
  for (const e of container.env ?? []) {
    const value = e.value ?? fieldRef(pod, e.valueFrom?.fieldRef?.fieldPath);
    if (value === undefined && e.valueFrom)
      throw new UnsupportedPodError(`env ${e.name}: only values and the common fieldRefs are supported`);
    env.push([e.name, value ?? ""]);
  }
  return env.map(([name, value]) => `--env=${name}=${value}`);
}

/** emptyDir volumes as tmpfs; the ServiceAccount's projected volume is the SA mount itself. */
function volumeArgs(pod: V1Pod, container: V1Container, saDir: string): string[] {
  const volumes = new Map((pod.spec?.volumes ?? []).map((v) => [v.name, v]));
  const args: string[] = [];
  const automount = pod.spec?.automountServiceAccountToken !== false;
  if (automount) args.push(`--volume=${saDir}:${SA_DIR}:ro`);
  for (const mount of container.volumeMounts ?? []) {
    const volume = volumes.get(mount.name);
    if (volume?.emptyDir) args.push(`--mount=type=tmpfs,destination=${mount.mountPath},tmpfs-mode=1777`);
    else if (volume?.projected?.sources?.some((s) => s.serviceAccountToken) && mount.mountPath === SA_DIR)
      continue;
    else
      throw new UnsupportedPodError(`volume ${mount.name}: only emptyDir is supported by the local kubelet`);
  }
  return args;
}

/** The labels a kubelet puts on a Pod's container, and ours for finding leftovers. */
function labelArgs(pod: V1Pod, container: V1Container): string[] {
  const meta = pod.metadata ?? {};
  const labels = {
    [LOCAL_POD_LABEL]: "true",
    "io.kubernetes.pod.namespace": meta.namespace ?? "",
    "io.kubernetes.pod.name": meta.name ?? "",
    "io.kubernetes.pod.uid": meta.uid ?? "",
    "io.kubernetes.container.name": container.name,
  };
  return Object.entries(labels).map(([k, v]) => `--label=${k}=${v}`);
}

/** The Pod's own network and address; the host's with hostNetwork or without a Pod network. */
function networkArgs(pod: V1Pod, ctx: ContainerContext): string[] {
  if (!ctx.network || pod.spec?.hostNetwork === true) return ["--network=host"];
  return [`--network=${ctx.network.name}`, `--ip=${ctx.network.ip}`];
}

/** `podman run` for a Pod's first container, as a kubelet would start it. Pure. */
export function podmanRunArgs(pod: V1Pod, ctx: ContainerContext): string[] {
  const container = pod.spec?.containers[0];
  if (!container?.image) throw new UnsupportedPodError("the Pod has no container with an image");
  const meta = pod.metadata ?? {};
  return [
    "run",
    "--rm",
    "--replace",
    `--name=${ctx.name}`,
    ...labelArgs(pod, container),
    ...networkArgs(pod, ctx),
    // As a Pod's hostname: the operator's leader-election identity starts with it.
    `--hostname=${meta.name ?? ctx.name}`,
    "--pull=never",
    `--stop-timeout=${pod.spec?.terminationGracePeriodSeconds ?? 30}`,
    ...securityArgs(effectiveSecurityContext(pod.spec?.securityContext, container.securityContext)),
    ...(container.workingDir ? [`--workdir=${container.workingDir}`] : []),
    ...envArgs(pod, container, ctx.server),
    ...volumeArgs(pod, container, ctx.serviceAccountDir),
    // Kubernetes: command replaces the ENTRYPOINT and drops the CMD; args replace the CMD.
    ...(container.command ? [`--entrypoint=${JSON.stringify(container.command)}`] : []),
    ctx.image ?? container.image,
    ...(container.args ?? []),
  ];
}

/** A container name from the Pod, unique per start, as dockershim named them. */
export function containerName(pod: V1Pod, attempt: string): string {
  const meta = pod.metadata ?? {};
  const parts = ["k8s", pod.spec?.containers[0]?.name, meta.name, meta.namespace, attempt];
  return parts.map((p) => (p ?? "").replace(/[^a-zA-Z0-9_.-]/g, "-")).join("_");
}

/** What a kubelet writes for the Pod's ServiceAccount: world-readable files in a world-readable folder. */
function stageServiceAccount(dir: string, creds: Credentials): void {
  mkdirSync(dir, { mode: 0o755 });
  chmodSync(dir, 0o755);
  writeFileSync(join(dir, "token"), creds.token, { mode: 0o644 });
  writeFileSync(join(dir, "ca.crt"), creds.ca, { mode: 0o644 });
  writeFileSync(join(dir, "namespace"), creds.namespace, { mode: 0o644 });
}

let starts = 0;

export async function runPodInContainer(
  pod: V1Pod,
  admin: KubeConfig,
  opts: RunOptions = {},
): Promise<LocalProcess> {
  const container = pod.spec?.containers[0];
  const sc = effectiveSecurityContext(pod.spec?.securityContext, container?.securityContext);
  if (sc.runAsNonRoot && sc.runAsUser === undefined && container?.image) {
    const image = opts.image ?? container.image;
    const user = (await mustTool("podman", ["image", "inspect", "--format", "{{.User}}", image])).trim();
    const refusal = runAsNonRootRefusal(sc, user);
    if (refusal) throw new UnsupportedPodError(refusal);
  }
  const creds = await podCredentials(admin, pod);
  const staging = mkdtempSync(join(tmpdir(), "cpa-container-"));
  const saDir = join(staging, "serviceaccount");
  stageServiceAccount(saDir, creds);
  const name = containerName(pod, `${process.pid}-${++starts}`);
  const ownNetwork = opts.network && pod.spec?.hostNetwork !== true;
  // On the Pod network the apiserver is the `kubernetes` Service, as in any cluster.
  const server = ownNetwork ? new URL(`https://${KUBERNETES_SERVICE_IP}:443`) : creds.server;
  let args: string[];
  try {
    args = podmanRunArgs(pod, {
      name,
      serviceAccountDir: saDir,
      server,
      network: opts.network,
      image: opts.image,
    });
  } catch (err) {
    rmSync(staging, { recursive: true, force: true });
    throw err;
  }
  const child = spawn("podman", args, { env: containersEnv(), stdio: ["ignore", "pipe", "pipe"] });
  const output = captureOutput(child, opts);
  const exited = exitedWithOutput(child, () => {
    rmSync(staging, { recursive: true, force: true });
  });
  // As the kubelet: the stop signal, then SIGKILL after the Pod's grace period
  // (podman stop does both, with the --stop-timeout given at run).
  const stop = async (signal: NodeJS.Signals = "SIGTERM"): Promise<number | null> => {
    if (child.exitCode !== null || child.signalCode !== null) return exited;
    const res =
      signal === "SIGTERM"
        ? await tool("podman", ["stop", name])
        : await tool("podman", ["kill", `--signal=${signal}`, name]);
    // Not created yet (or already gone): stop the podman process itself, which forwards the signal.
    if (res.code !== 0) child.kill(signal);
    return exited;
  };
  return { child, output, stop, exited };
}

/**
 * Runs Pods as real containers of images in the project's store (ours, user
 * images built FROM them, anything pulled), each in its own network namespace
 * on the plane's Pod network.
 */
export class ContainerRunner implements PodRunner {
  readonly mode = "container";
  readonly ownNetwork = true;
  readonly pulls = true;

  /** Whether the store holds the image, by its full name (image-ref.ts). */
  has(image: string | undefined): Promise<boolean> {
    return image === undefined ? Promise.resolve(false) : imageExists(fullImageName(image));
  }

  /**
   * Pulls an image from a registry on 127.0.0.1 (plain HTTP), as a kubelet
   * pulls: `podman pull`; from a mirror's name for it, then tagged with its own.
   */
  async pull(image: string, source = fullImageName(image)): Promise<void> {
    const res = await tool("podman", ["pull", "--quiet", "--tls-verify=false", source]);
    if (res.code !== 0) {
      const why = res.stderr.trim().split("\n").pop() ?? `podman pull exited ${res.code}`;
      throw new Error(why.replace(/^Error: /, ""));
    }
    if (source !== fullImageName(image)) await mustTool("podman", ["tag", source, fullImageName(image)]);
  }

  /** Builds a user's image from a Dockerfile in `dir` (FROM one of ours), with buildah. */
  async build(tag: string, dir: string, dockerfile = "Dockerfile"): Promise<void> {
    await buildUserImage(tag, dir, dockerfile);
  }

  /** Gives a built image another name, as pushing it to a registry would: `podman tag`. */
  async tag(image: string, as: string): Promise<void> {
    await mustTool("podman", ["tag", image, fullImageName(as)]);
  }

  run(pod: V1Pod, admin: KubeConfig, opts: RunOptions): Promise<LocalProcess> {
    return runPodInContainer(pod, admin, opts);
  }

  /** Removes the containers a killed run left behind; they would hold the host ports. */
  static async removeLeftovers(): Promise<void> {
    const ids = (
      await mustTool("podman", ["ps", "--all", "--quiet", `--filter=label=${LOCAL_POD_LABEL}=true`])
    )
      .split("\n")
      .filter((id) => id !== "");
    if (ids.length > 0) await mustTool("podman", ["rm", "--force", "--time=0", ...ids]);
  }
}
