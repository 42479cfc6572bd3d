// The admission policy that narrows roleRequiresPodDeletionCost. RBAC cannot
// limit `patch pods` to some Pods or to one annotation, and whoever may patch a
// Pod may change its image, i.e. run code as any ServiceAccount of the
// namespace. So this ValidatingAdmissionPolicy, with each CustomPodAutoscaler
// of the Pod's namespace as a parameter, lets the ServiceAccount of a CPA that
// asked for the right change nothing on a Pod but the deletion-cost
// annotation, and only on its target's Pods. Other requesters, and the
// accounts of CPAs without the flag, are not affected.
import { API_VERSION, DELETION_COST_ANNOTATION, KIND, POD_COST_POLICY_NAME } from "../api/names.ts";
import { cel } from "./cel.ts";

export { POD_COST_POLICY_NAME };

/** A CEL string literal. */

const COST = cel(DELETION_COST_ANNOTATION);
const annotations = (obj: string): string => `${obj}.metadata.?annotations.orValue({})`;

const variables = [
  {
    // The account the CPA's autoscaler runs as (desired/pod.ts podServiceAccountName).
    name: "account",
    expression:
      "params.spec.?provisionServiceAccount.orValue(true) == false && " +
      "params.spec.?template.?spec.?serviceAccountName.orValue('') != '' ? " +
      "string(params.spec.template.spec.serviceAccountName) : string(params.metadata.name)",
  },
  {
    name: "mine",
    expression:
      "params.spec.?roleRequiresPodDeletionCost.orValue(false) == true && " +
      "request.userInfo.username == 'system:serviceaccount:' + request.namespace + ':' + variables.account",
  },
  { name: "target", expression: "string(params.spec.scaleTargetRef.name)" },
  {
    // A Deployment's ReplicaSet is named <deployment>-<pod-template-hash>, the label its Pods carry.
    name: "targetsPod",
    expression:
      "object.metadata.?ownerReferences.orValue([]).exists(r, r.?controller.orValue(false) == true && " +
      "r.kind == 'ReplicaSet' && r.apiVersion.startsWith('apps/') && (r.name == variables.target || " +
      "r.name == variables.target + '-' + object.metadata.?labels[?'pod-template-hash'].orValue('')))",
  },
  {
    name: "onlyCost",
    expression:
      "object.spec == oldObject.spec && " +
      "object.metadata.?labels.orValue({}) == oldObject.metadata.?labels.orValue({}) && " +
      "object.metadata.?ownerReferences.orValue([]) == oldObject.metadata.?ownerReferences.orValue([]) && " +
      "object.metadata.?finalizers.orValue([]) == oldObject.metadata.?finalizers.orValue([]) && " +
      `${annotations("oldObject")}.all(k, k == ${COST} || (k in ${annotations("object")} && ` +
      `${annotations("object")}[k] == ${annotations("oldObject")}[k])) && ` +
      `${annotations("object")}.all(k, k == ${COST} || k in ${annotations("oldObject")})`,
  },
];

/** The denial, as CEL: who the requester is, and what the flag allows. */
const denial = (rest: string): string =>
  "request.userInfo.username + ' runs the autoscaler of CustomPodAutoscaler ' + string(params.metadata.name) + " +
  cel(
    `, whose roleRequiresPodDeletionCost lets it change only the ${DELETION_COST_ANNOTATION} annotation of `,
  ) +
  ` + ${rest}`;

export function podCostPolicy(): object {
  return {
    apiVersion: "admissionregistration.k8s.io/v1",
    kind: "ValidatingAdmissionPolicy",
    metadata: { name: POD_COST_POLICY_NAME },
    spec: {
      failurePolicy: "Fail",
      paramKind: { apiVersion: API_VERSION, kind: KIND },
      matchConstraints: {
        resourceRules: [
          { apiGroups: [""], apiVersions: ["v1"], operations: ["UPDATE"], resources: ["pods"] },
        ],
      },
      // Only ServiceAccounts of the Pod's own namespace, as autoscalers are: the
      // rest of the cluster's Pod updates are never evaluated against CPAs.
      matchConditions: [
        {
          name: "by-a-serviceaccount-of-the-namespace",
          expression:
            "request.userInfo.username.startsWith('system:serviceaccount:' + request.namespace + ':')",
        },
      ],
      variables,
      validations: [
        {
          expression: "!variables.mine || variables.onlyCost",
          messageExpression: denial(cel("its target's Pods, not other fields")),
          reason: "Forbidden",
        },
        {
          expression: "!variables.mine || variables.targetsPod",
          messageExpression: denial(
            "'the Pods of its target ' + variables.target + ', and Pod ' + object.metadata.name + ' is not one'",
          ),
          reason: "Forbidden",
        },
      ],
    },
  };
}

/**
 * Every CPA of the Pod's namespace is a parameter; a namespace without one
 * allows the update (no CPA there asked for the right).
 */
export function podCostPolicyBinding(): object {
  return {
    apiVersion: "admissionregistration.k8s.io/v1",
    kind: "ValidatingAdmissionPolicyBinding",
    metadata: { name: POD_COST_POLICY_NAME },
    spec: {
      policyName: POD_COST_POLICY_NAME,
      validationActions: ["Deny"],
      paramRef: { selector: {}, parameterNotFoundAction: "Allow" },
    },
  };
}
