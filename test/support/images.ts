// The images for tests that run them: built once per test process with buildah
// from the real Dockerfile (hack/image), warm from the layer cache after the
// first run. Fails, never skips, when they cannot be built, and says why.
import { buildImages, type BuiltImage } from "../../hack/image/build.ts";
import { tool, type ToolResult } from "../../hack/image/containers.ts";
import { ContainerRunner } from "../../hack/local-pods/container-runner.ts";

let built: Promise<BuiltImage[]> | undefined;

/** Builds both targets (a no-op when the cache is warm) and removes containers a killed run left. */
export function ensureImages(): Promise<BuiltImage[]> {
  built ??= (async () => {
    const images = await buildImages((line) => process.stderr.write(`[image] ${line}\n`));
    await ContainerRunner.removeLeftovers();
    return images;
  })();
  return built;
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
