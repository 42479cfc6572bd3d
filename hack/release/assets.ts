// What a release publishes beside its images, built from the same objects as
// config/ and charts/cpa with the operator's image pinned by digest. Pure: the
// builds, pushes and files are in main.ts.
import { createHash } from "node:crypto";
import { stringify } from "yaml";
import { IMAGE } from "../bundles.ts";

/** One pushed image: where it is, and the digest the registry gave it. */
export interface Pushed {
  /** registry/repository:tag */
  ref: string;
  /** The digest of the manifest list (one image per platform) the registry gave it. */
  digest: string;
  /** os/arch of each image in the list. */
  platforms: string[];
}

export class ReleaseError extends Error {
  override readonly name = "ReleaseError";
}

/** The repository part of `registry/path/name:tag`. Pure. */
export function repositoryOf(ref: string): string {
  const at = ref.indexOf("@");
  const noDigest = at < 0 ? ref : ref.slice(0, at);
  const slash = noDigest.lastIndexOf("/");
  const colon = noDigest.lastIndexOf(":");
  return colon > slash ? noDigest.slice(0, colon) : noDigest;
}

/** `repository@digest`: what a manifest should name, so a node runs exactly what was released. */
export const pinned = (p: Pushed): string => `${repositoryOf(p.ref)}@${p.digest}`;

/** The names the release pushes our local images as, under `registry` (host[:port][/path]). */
export function releaseRefs(registry: string, localTags: readonly string[]): Map<string, string> {
  const base = registry.replace(/\/+$/, "");
  if (!/^[a-z0-9.-]+(:\d+)?(\/[a-z0-9._-]+)*$/.test(base))
    throw new ReleaseError(
      `--registry ${registry}: expected host[:port][/path], as in ghcr.io/my-org or 127.0.0.1:5000/cpa`,
    );
  return new Map(localTags.map((tag) => [tag, `${base}/${tag}`]));
}

/** The bundle's objects with the operator's image replaced (the release pins it by digest). */
export function withOperatorImage(objects: readonly object[], image: string): object[] {
  return objects.map((o) => {
    const text = JSON.stringify(o);
    return text.includes(`"image":"${IMAGE}"`)
      ? (JSON.parse(text.replaceAll(`"image":"${IMAGE}"`, `"image":${JSON.stringify(image)}`)) as object)
      : o;
  });
}

/**
 * The chart's values.yaml pointing at the released image: its repository and
 * digest lines replaced, every comment kept. Fails when the lines are not
 * there (hack/chart.ts changed).
 */
export function releasedValues(values: string, repository: string, digest: string): string {
  const lines = values.split("\n");
  const replace = (pattern: RegExp, line: string): void => {
    const i = lines.findIndex((l) => pattern.test(l));
    if (i < 0) throw new ReleaseError(`charts/cpa/values.yaml has no line matching ${String(pattern)}`);
    lines[i] = line;
  };
  replace(/^ {2}repository: /, `  repository: ${repository}`);
  replace(/^ {2}digest: /, `  digest: ${digest}`);
  return lines.join("\n");
}

/** The section of CHANGELOG.md for `version` (its `## [version]` heading to the next one). Pure. */
export function changelogSection(changelog: string, version: string): string {
  const lines = changelog.split("\n");
  const start = lines.findIndex((l) => l.startsWith(`## [${version}]`));
  if (start < 0)
    throw new ReleaseError(
      `CHANGELOG.md has no "## [${version}]" section: move what Unreleased lists under it first`,
    );
  const end = lines.findIndex((l, i) => i > start && l.startsWith("## ["));
  return `${lines
    .slice(start, end < 0 ? undefined : end)
    .join("\n")
    .trim()}\n`;
}

/** SHA256SUMS as sha256sum writes it: `<hex>  <name>`, sorted by name. */
export function checksums(files: ReadonlyMap<string, Buffer | string>): string {
  return [...files.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, content]) => `${createHash("sha256").update(content).digest("hex")}  ${name}`)
    .join("\n")
    .concat("\n");
}

/** images.yaml: every image of the release, by tag and by digest. */
export function imagesList(pushed: readonly Pushed[]): string {
  return stringify(
    pushed.map((p) => ({ image: p.ref, digest: p.digest, pinned: pinned(p), platforms: p.platforms })),
  );
}
