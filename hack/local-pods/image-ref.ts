// Image references as a node's runtime reads them, and the kubelet's pull
// policy. Pure.
//
// A reference is resolved to its full name as containerd and Docker do:
// `cpa:0.1.0` is `docker.io/library/cpa:0.1.0`, `me/app` is
// `docker.io/me/app:latest`, `localhost/x` and `127.0.0.1:5000/x` keep their
// registry. So `kind load docker-image cpa:0.1.0` stores
// docker.io/library/cpa:0.1.0, and so does `npm run image -- -t cpa:0.1.0`.

export type PullPolicy = "Always" | "IfNotPresent" | "Never";

/** The registry part of a reference, or undefined when it names none (Docker Hub then). */
function explicitRegistry(ref: string): string | undefined {
  const slash = ref.indexOf("/");
  if (slash < 0) return undefined;
  const first = ref.slice(0, slash);
  return first.includes(".") || first.includes(":") || first === "localhost" ? first : undefined;
}

/** The full name of an image reference: registry, repository path and tag (or digest). */
export function fullImageName(ref: string): string {
  const registry = explicitRegistry(ref);
  let rest = registry === undefined ? ref : ref.slice(registry.length + 1);
  if (registry === undefined && !rest.includes("/")) rest = `library/${rest}`;
  const lastPart = rest.slice(rest.lastIndexOf("/") + 1);
  if (!lastPart.includes(":") && !rest.includes("@")) rest = `${rest}:latest`;
  return `${registry ?? "docker.io"}/${rest}`;
}

/** The registry an image is pulled from: docker.io unless the reference names one. */
export function registryOf(ref: string): string {
  return explicitRegistry(ref) ?? "docker.io";
}

/**
 * Where the node pulls an image from: the plane's registry for its own images,
 * and for Docker Hub's too, which it mirrors (as kind's local-registry set-up
 * mirrors docker.io): `docker.io/library/x:1` comes from `<registry>/library/x:1`.
 * Any other registry is out of reach (undefined). Pure.
 */
export function pullSource(fullName: string, registry: string | undefined): string | undefined {
  if (registry === undefined) return undefined;
  if (registryOf(fullName) === registry) return fullName;
  return fullName.startsWith("docker.io/") ? `${registry}/${fullName.slice("docker.io/".length)}` : undefined;
}

/** What the apiserver defaults `imagePullPolicy` to: Always for `:latest` or no tag, else IfNotPresent. */
export function defaultPullPolicy(ref: string): PullPolicy {
  if (ref.includes("@")) return "IfNotPresent";
  const tag = fullImageName(ref).split(":").pop();
  return tag === "latest" ? "Always" : "IfNotPresent";
}

export type ImageStep =
  | { kind: "use" }
  | { kind: "pull" }
  /** The policy forbids a pull and the image is absent: ErrImageNeverPull. */
  | { kind: "never"; message: string };

/** The kubelet's decision before starting a container: use the local image, pull, or refuse. */
export function imageStep(image: string, policy: PullPolicy, present: boolean): ImageStep {
  switch (policy) {
    case "Always":
      return { kind: "pull" };
    case "IfNotPresent":
      return present ? { kind: "use" } : { kind: "pull" };
    case "Never":
      return present
        ? { kind: "use" }
        : { kind: "never", message: `Container image "${image}" is not present with pull policy of Never` };
  }
}

/** The waiting reason and message while a failed pull backs off, as the kubelet writes them. */
export function pullBackOff(image: string, error: string): { reason: string; message: string } {
  return { reason: "ImagePullBackOff", message: `Back-off pulling image "${image}": ErrImagePull: ${error}` };
}
