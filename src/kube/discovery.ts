// Resolves a kind to its resource through API discovery. Never pluralise a kind
// by hand: the original broke on kinds like Logstash (resource logstashes).
import { isNotFound, type KubeClient } from "./http.ts";

export interface ResolvedResource {
  group: string;
  version: string;
  /** Plural resource name, e.g. deployments. */
  resource: string;
  kind: string;
  namespaced: boolean;
  /** Whether the resource has a /scale subresource. */
  scalable: boolean;
}

interface ApiResourceList {
  groupVersion: string;
  resources: {
    name: string;
    singularName?: string;
    kind: string;
    namespaced: boolean;
    shortNames?: string[];
  }[];
}

interface ApiGroupList {
  groups: {
    name: string;
    preferredVersion?: { groupVersion: string };
    versions: { groupVersion: string }[];
  }[];
}

export class UnresolvedKindError extends Error {
  override readonly name = "UnresolvedKindError";
}

/** How often a group version is fetched again at most, for a kind or a /scale it did not have. */
export const REFRESH_AFTER_MS = 10_000;

/** `group/version`, or `v1` for the core group: what an apiVersion may be. */
export const API_VERSION_PATTERN = "^(v1|[a-z0-9]([-a-z0-9.]*[a-z0-9])?/[a-z0-9]([-a-z0-9]*[a-z0-9])?)$";

export class Discovery {
  readonly #http: KubeClient;
  readonly #now: () => number;
  readonly #cache = new Map<string, { at: number; list: ApiResourceList | undefined }>();

  constructor(http: KubeClient, now: () => number = Date.now) {
    this.#http = http;
    this.#now = now;
  }

  /**
   * Finds the resource for apiVersion + kind. An empty apiVersion searches the core
   * group, then every group's preferred version.
   */
  async resolve(apiVersion: string | undefined, kind: string): Promise<ResolvedResource> {
    if (apiVersion && !new RegExp(API_VERSION_PATTERN).test(apiVersion))
      throw new UnresolvedKindError(
        `apiVersion "${apiVersion}" is not group/version (e.g. apps/v1) or v1 for the core group`,
      );
    const candidates = apiVersion ? [apiVersion] : ["v1", ...(await this.#preferredGroupVersions())];
    for (const gv of candidates) {
      const found = await this.#find(gv, kind);
      if (found) return found;
    }
    const where = apiVersion ? `in ${apiVersion}` : "in any API group";
    throw new UnresolvedKindError(`the API server has no kind ${kind} ${where}`);
  }

  /**
   * Finds a resource as kubectl does from a user's word: plural, singular, kind or
   * short name, case-insensitive ("deployment", "deploy", "Deployment").
   */
  async lookup(word: string): Promise<ResolvedResource> {
    const w = word.toLowerCase();
    for (const gv of ["v1", ...(await this.#preferredGroupVersions())]) {
      const list = await this.#resources(gv, false);
      const match = list?.resources.find(
        (r) =>
          !r.name.includes("/") &&
          (r.name === w ||
            r.singularName === w ||
            r.kind.toLowerCase() === w ||
            (r.shortNames ?? []).includes(w)),
      );
      if (match) return this.resolve(gv, match.kind);
    }
    throw new UnresolvedKindError(`the API server has no resource type "${word}"`);
  }

  /**
   * The preferred version of a group, as discovery serves it ("" is the core
   * group: v1); undefined when the group is not served.
   */
  async preferredVersion(group: string): Promise<string | undefined> {
    if (group === "") return "v1";
    const gv = (await this.#preferredGroupVersions()).find((v) => v.startsWith(`${group}/`));
    return gv?.slice(group.length + 1);
  }

  async #find(groupVersion: string, kind: string): Promise<ResolvedResource | undefined> {
    let found = resourceOf(groupVersion, kind, await this.#resources(groupVersion, false));
    // Maybe the kind, or its /scale, was installed since we last looked (a CRD
    // applied or changed after the CPA): look again, at most every REFRESH_AFTER_MS.
    if (!found?.scalable) found = resourceOf(groupVersion, kind, await this.#resources(groupVersion, true));
    return found;
  }

  async #resources(groupVersion: string, refresh: boolean): Promise<ApiResourceList | undefined> {
    const cached = this.#cache.get(groupVersion);
    if (cached && (!refresh || this.#now() - cached.at < REFRESH_AFTER_MS)) return cached.list;
    const path = groupVersion === "v1" ? "/api/v1" : `/apis/${groupVersion}`;
    let list: ApiResourceList | undefined;
    try {
      list = await this.#http.request<ApiResourceList>("GET", path);
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    // A group version answers an APIResourceList; anything else (an APIGroup, for
    // a path that is a group) serves no kinds.
    if (list && !Array.isArray(list.resources)) list = undefined;
    this.#cache.set(groupVersion, { at: this.#now(), list });
    return list;
  }

  async #preferredGroupVersions(): Promise<string[]> {
    const res = await this.#http.request<ApiGroupList>("GET", "/apis");
    return res.groups
      .map((g) => g.preferredVersion?.groupVersion ?? g.versions[0]?.groupVersion ?? "")
      .filter(Boolean);
  }
}

function resourceOf(
  groupVersion: string,
  kind: string,
  list: ApiResourceList | undefined,
): ResolvedResource | undefined {
  const match = list?.resources.find((r) => r.kind === kind && !r.name.includes("/"));
  if (!list || !match) return undefined;
  const slash = groupVersion.indexOf("/");
  const resource = match.name;
  return {
    group: slash < 0 ? "" : groupVersion.slice(0, slash),
    version: slash < 0 ? groupVersion : groupVersion.slice(slash + 1),
    resource,
    kind,
    namespaced: match.namespaced,
    scalable: list.resources.some((r) => r.name === `${resource}/scale`),
  };
}

/** The collection path of a resource, e.g. /apis/apps/v1/namespaces/ns/deployments. */
export function resourcePath(
  r: Pick<ResolvedResource, "group" | "version" | "resource">,
  namespace?: string,
): string {
  const base = r.group ? `/apis/${r.group}/${r.version}` : `/api/${r.version}`;
  return namespace ? `${base}/namespaces/${namespace}/${r.resource}` : `${base}/${r.resource}`;
}
