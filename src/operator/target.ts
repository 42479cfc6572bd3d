// The CPA's target resource, resolved as the admission policy resolves it, so
// that the Role grants rights on exactly what the policy checked its author
// holds: with an apiVersion, that group version; without one, only the
// built-in kinds, in their own group (discovery's first match in any group
// could be another group's kind of the same name).
import { UnresolvedKindError, type Discovery, type ResolvedResource } from "../kube/discovery.ts";
import { BUILTIN_TARGETS } from "./permissions.ts";

export async function resolveScaleTarget(
  discovery: Discovery,
  apiVersion: string | undefined,
  kind: string,
): Promise<ResolvedResource> {
  if (apiVersion) return discovery.resolve(apiVersion, kind);
  const builtin = BUILTIN_TARGETS.find((t) => t.kind === kind);
  if (!builtin)
    throw new UnresolvedKindError(
      `kind ${kind} has no apiVersion, and only the built-in kinds (${BUILTIN_TARGETS.map((t) => t.kind).join(", ")}) ` +
        "are looked up without one: set spec.scaleTargetRef.apiVersion",
    );
  const version = await discovery.preferredVersion(builtin.group);
  if (!version)
    throw new UnresolvedKindError(`the API server does not serve ${builtin.group}, the group of ${kind}`);
  return discovery.resolve(builtin.group ? `${builtin.group}/${version}` : "v1", kind);
}
