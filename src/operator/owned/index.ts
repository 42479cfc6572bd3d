// The kinds the operator provisions for every CPA (kind.ts says what each
// module holds). A new kind is a module beside these and one entry here.
import type { OwnedKind } from "./kind.ts";
import { podKind } from "./pod.ts";
import { roleBindingKind } from "./role-binding.ts";
import { roleKind } from "./role.ts";
import { serviceAccountKind } from "./service-account.ts";

export const OWNED_KINDS: readonly OwnedKind[] = [serviceAccountKind, roleKind, roleBindingKind, podKind];

export { podKind, roleBindingKind, roleKind, serviceAccountKind };
