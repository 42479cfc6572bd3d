// Builds the CustomResourceDefinition from the schema source. `npm run gen`
// writes it to crds/; a test fails when the committed file drifts.
import { GROUP, KIND, PLURAL, SHADOW_ANNOTATION, SHORT_NAMES, SINGULAR, VERSION } from "./names.ts";
import { API_VERSION_PATTERN } from "../kube/discovery.ts";
import { specSchema, statusSchema } from "./custom-pod-autoscaler.ts";
import type { JsonSchema } from "./schema.ts";

/**
 * The spec as the CRD validates it: the shared schema plus the rules only the
 * apiserver applies. scaleTargetRef.apiVersion must be group/version (or v1):
 * `apps` alone would pass the admission policy as a core kind while the
 * operator looked it up under /apis/apps. (The runtime's discovery refuses it
 * too, with the same pattern.)
 */
function crdSpecSchema(): JsonSchema {
  const ref = specSchema.properties?.["scaleTargetRef"];
  const apiVersion = ref?.properties?.["apiVersion"];
  if (!ref || !apiVersion) throw new Error("the spec schema has no scaleTargetRef.apiVersion");
  return {
    ...specSchema,
    properties: {
      ...specSchema.properties,
      scaleTargetRef: {
        ...ref,
        properties: {
          ...ref.properties,
          apiVersion: {
            ...apiVersion,
            "x-kubernetes-validations": [
              {
                rule: `self == '' || self.matches('${API_VERSION_PATTERN}')`,
                message: "must be group/version, e.g. apps/v1, or v1 for the core group",
                messageExpression: `'must be group/version, e.g. apps/v1, or v1 for the core group, not ' + self`,
              },
            ],
          },
        },
      },
    },
  };
}

export interface PrinterColumn {
  name: string;
  type: "string" | "integer" | "number" | "boolean" | "date";
  jsonPath: string;
  description?: string;
  /** 0 (or unset): shown by `kubectl get`; more: only with `-o wide`. */
  priority?: number;
}

export interface CrdVersion {
  name: string;
  served: boolean;
  storage: boolean;
  deprecated?: boolean;
  deprecationWarning?: string;
  subresources?: { status?: Record<string, never> };
  additionalPrinterColumns?: PrinterColumn[];
  schema: { openAPIV3Schema: JsonSchema };
}

/** The parts of apiextensions.k8s.io/v1 CustomResourceDefinition we write. */
export interface CustomResourceDefinition {
  apiVersion: "apiextensions.k8s.io/v1";
  kind: "CustomResourceDefinition";
  metadata: { name: string };
  spec: {
    group: string;
    scope: "Namespaced" | "Cluster";
    names: { kind: string; listKind: string; plural: string; singular: string; shortNames: string[] };
    versions: CrdVersion[];
  };
}

const description =
  "A CustomPodAutoscaler runs your own scaling logic against a workload: the operator provisions an " +
  "autoscaler Pod (with a ServiceAccount, Role and RoleBinding) from spec.template, and that Pod scales " +
  "spec.scaleTargetRef through its /scale subresource.";

function rootSchema(spec: JsonSchema, status: JsonSchema, extra: Partial<JsonSchema> = {}): JsonSchema {
  return {
    type: "object",
    description,
    properties: {
      apiVersion: { type: "string", description: "APIVersion of this object: custompodautoscaler.com/v1." },
      kind: { type: "string", description: "Kind of this object: CustomPodAutoscaler." },
      metadata: { type: "object" },
      spec,
      status,
    },
    required: ["spec"],
    ...extra,
  };
}

const columns: PrinterColumn[] = [
  {
    name: "Reference",
    type: "string",
    jsonPath: ".status.reference",
    description: "The target, as Kind/name.",
  },
  { name: "Current", type: "integer", jsonPath: ".status.currentReplicas", description: "Current replicas." },
  { name: "Desired", type: "integer", jsonPath: ".status.desiredReplicas", description: "Desired replicas." },
  {
    name: "Ready",
    type: "string",
    jsonPath: '.status.conditions[?(@.type=="Ready")].status',
    description: "Whether the autoscaler is provisioned and running.",
  },
  {
    name: "Reason",
    type: "string",
    priority: 1,
    jsonPath: '.status.conditions[?(@.type=="Ready")].reason',
    description: "Why it is (not) ready.",
  },
  {
    name: "Pod",
    type: "string",
    priority: 1,
    jsonPath: ".status.podName",
    description: "The autoscaler Pod.",
  },
  {
    name: "Last Scale",
    type: "date",
    jsonPath: ".status.lastScaleTime",
    description: "When it last scaled.",
  },
  { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" },
  {
    name: "Shadow",
    type: "string",
    priority: 1,
    jsonPath: `.metadata.annotations.${SHADOW_ANNOTATION.replaceAll(".", "\\.")}`,
    description: "true for a shadow: it decides (Desired) but never writes /scale.",
  },
];

export function customResourceDefinition(): CustomResourceDefinition {
  return {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: { name: `${PLURAL}.${GROUP}` },
    spec: {
      group: GROUP,
      scope: "Namespaced",
      names: {
        kind: KIND,
        listKind: `${KIND}List`,
        plural: PLURAL,
        singular: SINGULAR,
        shortNames: [...SHORT_NAMES],
      },
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: columns,
          schema: { openAPIV3Schema: rootSchema(crdSpecSchema(), statusSchema) },
        },
        {
          // The original's v1alpha1 was dropped without conversion, yet users still
          // apply old manifests. Serving it only to refuse it turns a confusing
          // "no matches for kind" into an error that says what to change.
          name: "v1alpha1",
          served: true,
          storage: false,
          deprecated: true,
          deprecationWarning:
            "custompodautoscaler.com/v1alpha1 is no longer supported; use custompodautoscaler.com/v1",
          schema: {
            openAPIV3Schema: rootSchema(
              { type: "object", "x-kubernetes-preserve-unknown-fields": true },
              { type: "object" },
              {
                "x-kubernetes-validations": [
                  {
                    rule: "false",
                    message:
                      "custompodautoscaler.com/v1alpha1 is no longer supported: change apiVersion to custompodautoscaler.com/v1 (the spec is unchanged)",
                  },
                ],
              },
            ),
          },
        },
      ],
    },
  };
}
