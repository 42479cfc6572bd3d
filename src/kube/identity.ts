// Who the operator is, as the apiserver sees it: the autoscaler Pods it makes
// must never run as its own ServiceAccount.
import type { KubeClient } from "./http.ts";

export interface ServiceAccountRef {
  namespace: string;
  name: string;
}

const PREFIX = "system:serviceaccount:";

/** The ServiceAccount a username stands for (`system:serviceaccount:NS:NAME`), if any. */
export function serviceAccountOf(username: string): ServiceAccountRef | undefined {
  if (!username.startsWith(PREFIX)) return undefined;
  const [namespace, name, ...rest] = username.slice(PREFIX.length).split(":");
  if (!namespace || !name || rest.length > 0) return undefined;
  return { namespace, name };
}

interface SelfSubjectReview {
  status?: { userInfo?: { username?: string } };
}

/**
 * Asks the apiserver who these credentials are (a SelfSubjectReview, which
 * every authenticated user may create). Returns the username.
 */
export async function whoAmI(http: KubeClient): Promise<string> {
  const review = await http.request<SelfSubjectReview>(
    "POST",
    "/apis/authentication.k8s.io/v1/selfsubjectreviews",
    { body: { apiVersion: "authentication.k8s.io/v1", kind: "SelfSubjectReview" } },
  );
  const username = review.status?.userInfo?.username;
  if (!username) throw new Error("the SelfSubjectReview named no user");
  return username;
}

/** The same from the downward API (POD_NAMESPACE and SERVICE_ACCOUNT_NAME), for when the review fails. */
export function serviceAccountFromEnv(env: NodeJS.ProcessEnv): ServiceAccountRef | undefined {
  const namespace = env["POD_NAMESPACE"];
  const name = env["SERVICE_ACCOUNT_NAME"];
  return namespace && name ? { namespace, name } : undefined;
}
