// The images the local kubelet can "run": ours (cpa and cpa-python, which hold
// no user files) and user images built FROM them the way the getting-started
// guide builds one: a Dockerfile with FROM <our image> and ADD/COPY of files
// to absolute paths. An image here is just the files it adds.
import { readFileSync } from "node:fs";
import { basename, join } from "node:path";
import type { KubeConfig, V1Pod } from "@kubernetes/client-node";
import { runPodLocally, type ImageFiles, type LocalProcess, type RunOptions } from "./pod-runner.ts";
import { fullImageName } from "./image-ref.ts";
import type { PodRunner } from "./runner.ts";

const pkg = JSON.parse(readFileSync(join(import.meta.dirname, "..", "..", "package.json"), "utf8")) as {
  version: string;
};

/** Our images, as the Dockerfile's targets are tagged (see README, "The image"). */
export const RUNTIME_IMAGE = `cpa:${pkg.version}`;
export const PYTHON_IMAGE = `cpa-python:${pkg.version}`;
/** The drop-in flavour (Dockerfile): as the original's images behaved, root and all. */
export const RUNTIME_DROPIN_IMAGE = `cpa:${pkg.version}-dropin`;
export const PYTHON_DROPIN_IMAGE = `cpa-python:${pkg.version}-dropin`;

export class LocalImages implements PodRunner {
  readonly mode = "process";
  /** Local processes share the host's network: they cannot have addresses of their own. */
  readonly ownNetwork = false;
  readonly pulls = false;
  readonly #images = new Map<string, ImageFiles>([
    [RUNTIME_IMAGE, {}],
    [PYTHON_IMAGE, {}],
  ]);

  /** The files of an image, or undefined when it is not one we can run. */
  files(image: string | undefined): ImageFiles | undefined {
    if (image === undefined) return undefined;
    const full = fullImageName(image);
    for (const [name, files] of this.#images) if (fullImageName(name) === full) return files;
    return undefined;
  }

  pull(image: string): Promise<void> {
    return Promise.reject(
      new Error(`Pods run as local processes cannot pull images (${image}); run them as containers (podman)`),
    );
  }

  has(image: string | undefined): Promise<boolean> {
    return Promise.resolve(this.#known(image));
  }

  #known(image: string | undefined): boolean {
    return this.files(image) !== undefined;
  }

  /** Runs the Pod as a local process, with its image's files bind-mounted in place. */
  run(pod: V1Pod, admin: KubeConfig, opts: RunOptions): Promise<LocalProcess> {
    return runPodLocally(pod, this.files(pod.spec?.containers[0]?.image) ?? {}, admin, opts);
  }

  /**
   * "Builds" an image from a Dockerfile in `dir`: FROM one of our images (or
   * one built here before), then ADD/COPY of files from `dir` to absolute paths.
   * Anything else is refused, so what runs locally is what the Dockerfile says.
   */
  build(tag: string, dir: string, dockerfile = "Dockerfile"): void {
    const lines = readFileSync(join(dir, dockerfile), "utf8")
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => l !== "" && !l.startsWith("#"));
    let files: ImageFiles | undefined;
    for (const line of lines) {
      const [instruction = "", ...args] = line.split(/\s+/);
      const where = `${dockerfile}: "${line}"`;
      if (instruction.toUpperCase() === "FROM") {
        files = { ...this.files(args[0]) };
        if (!this.#known(args[0]))
          throw new Error(
            `${where}: the base image must be ${RUNTIME_IMAGE} or ${PYTHON_IMAGE} to run locally`,
          );
      } else if (["ADD", "COPY"].includes(instruction.toUpperCase())) {
        if (!files) throw new Error(`${where}: ${instruction} before FROM`);
        const dest = args.pop();
        if (!dest?.startsWith("/") || args.length === 0)
          throw new Error(`${where}: expected sources and an absolute destination`);
        for (const src of args) {
          const target = dest.endsWith("/") ? `${dest}${basename(src)}` : dest;
          files[target] = readFileSync(join(dir, src), "utf8");
        }
      } else {
        throw new Error(`${where}: only FROM, ADD and COPY are supported by the local image builder`);
      }
    }
    if (!files) throw new Error(`${dockerfile} in ${dir} has no FROM`);
    this.#images.set(tag, files);
  }
}
