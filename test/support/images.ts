// The images for tests that run them: built once per test process with buildah
// from the real Dockerfile (hack/image), warm from the layer cache after the
// first run. Fails, never skips, when they cannot be built, and says why.
import { buildImages, HARDENED, type BuiltImage, type Target } from "../../hack/image/build.ts";
import { tool, type ToolResult } from "../../hack/image/containers.ts";
import { ContainerRunner } from "../../hack/local-pods/container-runner.ts";

const built = new Map<string, Promise<BuiltImage[]>>();

/**
 * Builds the targets (the hardened two unless named; a no-op when the cache is
 * warm) and removes containers a killed run left.
 */
export function ensureImages(targets: readonly Target[] = HARDENED): Promise<BuiltImage[]> {
  const key = targets.join(",");
  let images = built.get(key);
  if (!images) {
    images = (async () => {
      const done = await buildImages((line) => process.stderr.write(`[image] ${line}\n`), targets);
      await ContainerRunner.removeLeftovers();
      return done;
    })();
    built.set(key, images);
  }
  return images;
}

/** podman with the project's store and configuration. */
export function podman(...args: string[]): Promise<ToolResult> {
  return tool("podman", args);
}

/** The name of the container running a Pod, by the Pod's uid label. */
export async function containerOf(uid: string): Promise<string | undefined> {
  const res = await podman("ps", `--filter=label=io.kubernetes.pod.uid=${uid}`, "--format={{.Names}}");
  return res.stdout
    .trim()
    .split("\n")
    .find((n) => n !== "");
}
