// The admission policy that keeps the operator from being a path to privileges.
// The operator creates Pods, Roles and RoleBindings and scales targets with its
// own rights, on behalf of whoever wrote the CustomPodAutoscaler. This
// ValidatingAdmissionPolicy checks, with the requester's rights (CEL's
// `authorizer`), that they could have done it themselves: create the Pod, scale
// the target, read what the Role lets the autoscaler read, bind the Role they
// bring. The operator relies on it and makes no SubjectAccessReview itself.
//
// Every check is its own validation: an authorization check is costly in CEL's
// cost model, and a few in one expression exceed its per-expression limit. The
// apiserver reports the first validation that fails, so they are ordered from
// the most basic (create Pods) to the most specific.
import {
  ADMISSION_POLICY_NAME,
  GROUP,
  PAUSED_REPLICAS_ANNOTATION,
  PLURAL,
  SHADOW_ANNOTATION,
} from "../api/names.ts";
import { customResourceDefinition } from "../api/crd.ts";
import { ROLE_GRANTS, type RoleGrant } from "./desired/role.ts";
import { BUILTIN_TARGETS } from "./permissions.ts";
import { cel } from "./cel.ts";

/** The one cluster-scoped name of the policy and its binding, whichever bundle installs them. */
export { ADMISSION_POLICY_NAME };

/**
 * The policy's parameters are annotations on the CustomPodAutoscaler CRD: it is
 * cluster-scoped, in both bundles, and only cluster admins may change it. The
 * mapping is security-relevant (it says which permission a CPA's author must
 * hold to scale its target), so it must not sit where a namespace admin could
 * edit it. Each annotation maps one more scalable kind to its resource:
 * `targets.custompodautoscaler.com/Widget.example.com: widgets`.
 */
export const TARGET_ANNOTATION_PREFIX = `targets.${GROUP}/`;

interface Validation {
  expression: string;
  messageExpression: string;
  reason?: "Forbidden" | "Invalid";
}

/** The map key of a kind: `Kind.group`, or `Kind` for the core group (as kubectl writes `deployment.apps`). */
export function kindKey(kind: string, group: string): string {
  return group ? `${kind}.${group}` : kind;
}

const builtinMap = `{${BUILTIN_TARGETS.map((t) => `${cel(kindKey(t.kind, t.group))}: ${cel(t.resource)}`).join(", ")}}`;

const prefix = cel(TARGET_ANNOTATION_PREFIX);

const variables = [
  { name: "kind", expression: "string(object.spec.scaleTargetRef.kind)" },
  { name: "apiVersion", expression: "string(object.spec.scaleTargetRef.?apiVersion.orValue(''))" },
  { name: "builtin", expression: builtinMap },
  // The admin's additions, from the CRD's annotations. They cannot override a built-in kind.
  { name: "extra", expression: "params.metadata.?annotations.orValue({})" },
  {
    // Without an apiVersion only the built-in kinds resolve, to their own group,
    // as the operator resolves them (operator/target.ts).
    name: "candidates",
    expression: "variables.builtin.filter(k, k == variables.kind || k.startsWith(variables.kind + '.'))",
  },
  {
    name: "key",
    expression:
      "variables.apiVersion != '' ? " +
      "(variables.apiVersion.contains('/') ? variables.kind + '.' + variables.apiVersion.split('/')[0] : variables.kind) : " +
      "(size(variables.candidates) == 1 ? string(variables.candidates[0]) : '')",
  },
  {
    name: "resource",
    expression:
      "variables.key in variables.builtin ? variables.builtin[variables.key] : " +
      `(${prefix} + variables.key in variables.extra ? string(variables.extra[${prefix} + variables.key]) : '')`,
  },
  {
    name: "group",
    expression: "variables.key.contains('.') ? variables.key.substring(variables.key.indexOf('.') + 1) : ''",
  },
  { name: "user", expression: "request.userInfo.username" },
  {
    name: "shadow",
    expression: `object.metadata.?annotations[?${cel(SHADOW_ANNOTATION)}].orValue('') == 'true'`,
  },
  {
    name: "paused",
    expression: `object.metadata.?annotations[?${cel(PAUSED_REPLICAS_ANNOTATION)}].hasValue()`,
  },
];

interface Check {
  /** A CEL condition under which the check applies; always when absent. */
  when?: string;
  group: string;
  resource: string;
  subresource?: string;
  /** A CEL expression for the object's name; any name when absent. */
  name?: string;
  verb: string;
  /** Why the CustomPodAutoscaler needs it, in words. */
  because: string;
}

/**
 * The permission in words, as CEL: `verb resource.group`, with the object's
 * name and subresource as a path (`update deployments.apps/web/scale`). The
 * group and resource are CEL expressions (literals for fixed checks).
 */
function permissionWords(c: Check, groupExpr: string, resourceExpr: string): string {
  const fixed = groupExpr === cel(c.group) && resourceExpr === cel(c.resource);
  const resource = fixed
    ? cel(c.group ? `${c.resource}.${c.group}` : c.resource)
    : `${resourceExpr} + (${groupExpr} == '' ? '' : '.' + ${groupExpr})`;
  const name = c.name ? ` + '/' + ${c.name}` : "";
  const sub = c.subresource ? ` + ${cel(`/${c.subresource}`)}` : "";
  return `${cel(`${c.verb} `)} + ${resource}${name}${sub}`;
}

function checkValidation(c: Check, groupExpr = cel(c.group), resourceExpr = cel(c.resource)): Validation {
  const call = [
    `authorizer.group(${groupExpr})`,
    `.resource(${resourceExpr})`,
    c.subresource ? `.subresource(${cel(c.subresource)})` : "",
    ".namespace(request.namespace)",
    c.name ? `.name(${c.name})` : "",
    `.check(${cel(c.verb)}).allowed()`,
  ].join("");
  return {
    expression: c.when ? `!(${c.when}) || ${call}` : call,
    messageExpression:
      `variables.user + ' may not ' + ${permissionWords(c, groupExpr, resourceExpr)} + ` +
      `' in namespace ' + request.namespace + ${cel(`, which this CustomPodAutoscaler needs: ${c.because}`)}`,
    reason: "Forbidden",
  };
}

const SPEC = "object.spec";
const TARGET_NAME = "string(object.spec.scaleTargetRef.name)";

/**
 * One check per verb, group and resource of a rule the Role grants beyond the
 * CPA itself, under the condition the Role grants it; rules on the target take
 * its group and resource from the policy's variables.
 */
function grantValidations(grant: RoleGrant): Validation[] {
  const flag = grant.flag && `${SPEC}.?${grant.flag}.orValue(false) == true`;
  if (grant.on === "target") {
    // A shadow never writes /scale; paused, the operator does it for the author.
    const writes = grant.notForShadow ? " && (!variables.shadow || variables.paused)" : "";
    return grant.verbs.map((verb) =>
      checkValidation(
        {
          when: `variables.resource != ''${writes}`,
          group: "",
          resource: "",
          ...(grant.subresource ? { subresource: grant.subresource } : {}),
          name: TARGET_NAME,
          verb,
          because: grant.because,
        },
        "variables.group",
        "variables.resource",
      ),
    );
  }
  if (grant.own) return [];
  return grant.apiGroups.flatMap((group) =>
    grant.resources.flatMap((resource) =>
      grant.verbs.map((verb) =>
        checkValidation({ ...(flag ? { when: flag } : {}), group, resource, verb, because: grant.because }),
      ),
    ),
  );
}

/** The template's ServiceAccount, which the Role is bound to without provisionServiceAccount (desired/pod.ts). */
const TEMPLATE_ACCOUNT = `${SPEC}.?template.?spec.?serviceAccountName.orValue('')`;

/** The Role is bound to a ServiceAccount not named like the CPA: one other workloads may run as. */
const BINDS_ANOTHER_ACCOUNT =
  `${SPEC}.?provisionServiceAccount.orValue(true) == false && ` +
  `${SPEC}.?provisionRoleBinding.orValue(true) == true && ` +
  `${TEMPLATE_ACCOUNT} != '' && ${TEMPLATE_ACCOUNT} != string(object.metadata.name)`;

function validations(): Validation[] {
  return [
    checkValidation({
      group: "",
      resource: "pods",
      verb: "create",
      because: "the operator runs spec.template as its autoscaler Pod",
    }),
    {
      expression: "variables.resource != ''",
      messageExpression:
        "variables.apiVersion == '' ? " +
        "'spec.scaleTargetRef: kind ' + variables.kind + ' has no apiVersion, and only the built-in kinds (" +
        BUILTIN_TARGETS.map((t) => t.kind).join(", ") +
        ") are looked up without one: set spec.scaleTargetRef.apiVersion' : " +
        "'spec.scaleTargetRef: the admission policy " +
        ADMISSION_POLICY_NAME +
        " does not know which resource serves ' + variables.kind + " +
        "(variables.apiVersion == '' ? '' : ' in ' + variables.apiVersion) + ', so it cannot check your right to scale it; " +
        "a cluster admin maps it with the annotation ' + " +
        `${prefix} + (variables.key == '' ? variables.kind + '.<group>' : variables.key) + ` +
        `'=<plural resource> on the CustomResourceDefinition ${customResourceDefinition().metadata.name}'`,
      reason: "Invalid",
    },
    ...ROLE_GRANTS.flatMap(grantValidations),
    checkValidation({
      when: `${SPEC}.?provisionRole.orValue(true) == false && ${SPEC}.?provisionRoleBinding.orValue(true) == true`,
      group: "rbac.authorization.k8s.io",
      resource: "roles",
      name: "string(object.metadata.name)",
      verb: "bind",
      because:
        "with provisionRole: false the operator binds the Role of that name to the autoscaler's ServiceAccount",
    }),
    checkValidation({
      when: BINDS_ANOTHER_ACCOUNT,
      group: "rbac.authorization.k8s.io",
      resource: "rolebindings",
      verb: "create",
      because:
        "the operator binds the CPA's Role to spec.template.spec.serviceAccountName, a ServiceAccount not named like the CPA, " +
        "so every Pod running as it gains what the Role grants",
    }),
  ];
}

const pausedAnnotation = (obj: string): string =>
  `${obj}.metadata.?annotations[?${cel(PAUSED_REPLICAS_ANNOTATION)}]`;
const shadowAnnotation = (obj: string): string =>
  `${obj}.metadata.?annotations[?${cel(SHADOW_ANNOTATION)}].orValue('')`;

export function admissionPolicy(): object {
  return {
    apiVersion: "admissionregistration.k8s.io/v1",
    kind: "ValidatingAdmissionPolicy",
    metadata: { name: ADMISSION_POLICY_NAME },
    spec: {
      failurePolicy: "Fail",
      paramKind: { apiVersion: "apiextensions.k8s.io/v1", kind: "CustomResourceDefinition" },
      matchConstraints: {
        resourceRules: [
          {
            apiGroups: [GROUP],
            apiVersions: ["*"],
            operations: ["CREATE", "UPDATE"],
            // Not custompodautoscalers/status: the autoscaler and the operator write that.
            resources: [PLURAL],
          },
        ],
      },
      matchConditions: [
        {
          // A shadow turned live (its annotation removed or changed) is checked as a new live CPA.
          name: "spec-pause-or-shadow-changed",
          expression:
            `request.operation == 'CREATE' || object.spec != oldObject.spec || ` +
            `${pausedAnnotation("object")} != ${pausedAnnotation("oldObject")} || ` +
            `${shadowAnnotation("object")} != ${shadowAnnotation("oldObject")}`,
        },
      ],
      variables,
      validations: validations(),
    },
  };
}

/** The binding, with the CustomPodAutoscaler CRD as the parameters (see TARGET_ANNOTATION_PREFIX). */
export function admissionPolicyBinding(): object {
  return {
    apiVersion: "admissionregistration.k8s.io/v1",
    kind: "ValidatingAdmissionPolicyBinding",
    metadata: { name: ADMISSION_POLICY_NAME },
    spec: {
      policyName: ADMISSION_POLICY_NAME,
      validationActions: ["Deny"],
      paramRef: { name: customResourceDefinition().metadata.name, parameterNotFoundAction: "Deny" },
    },
  };
}
