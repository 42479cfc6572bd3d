// A tiny builder for Kubernetes structural schemas that also carries the
// TypeScript type each schema describes. One definition yields the CRD's
// openAPIV3Schema, the ajv validator and the static types (`Static<typeof s>`).
// Only the subset the apiserver accepts is produced: no $ref, no
// additionalProperties: false, no uniqueItems.

declare const staticType: unique symbol;

/** A JSON schema node, tagged (at the type level only) with the type it validates. */
export type Schema<T> = JsonSchema & { readonly [staticType]?: T };
export type Static<S> = S extends Schema<infer T> ? T : never;

export interface ValidationRule {
  rule: string;
  message?: string;
  /** A CEL expression building the message, so it can name the offending value. */
  messageExpression?: string;
  fieldPath?: string;
  reason?: "FieldValueInvalid" | "FieldValueRequired" | "FieldValueForbidden" | "FieldValueDuplicate";
}

export interface JsonSchema {
  type?: "object" | "array" | "string" | "integer" | "number" | "boolean";
  description?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  additionalProperties?: JsonSchema;
  enum?: readonly (string | number)[];
  format?: string;
  pattern?: string;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  default?: unknown;
  "x-kubernetes-preserve-unknown-fields"?: true;
  "x-kubernetes-int-or-string"?: true;
  "x-kubernetes-list-type"?: "atomic" | "set" | "map";
  "x-kubernetes-list-map-keys"?: string[];
  "x-kubernetes-map-type"?: "atomic" | "granular";
  "x-kubernetes-validations"?: ValidationRule[];
  /** Only in schemas for config files (ajv); a CRD schema must not use it. */
  anyOf?: JsonSchema[];
}

/** Keywords any node may carry besides its type. */
type Extra = Omit<JsonSchema, "type" | "properties" | "required" | "items" | "additionalProperties">;

export function string(extra: Extra = {}): Schema<string> {
  return { type: "string", ...extra };
}

export function integer(extra: Extra = {}): Schema<number> {
  return { type: "integer", ...extra };
}

export function boolean(extra: Extra = {}): Schema<boolean> {
  return { type: "boolean", ...extra };
}

export function literal<const V extends readonly string[]>(values: V, extra: Extra = {}): Schema<V[number]> {
  return { type: "string", enum: values, ...extra };
}

export function array<T>(items: Schema<T>, extra: Extra = {}): Schema<T[]> {
  return { type: "array", items, ...extra };
}

/** An object whose values all share one schema (a Go map[string]T). */
export function record<T>(values: Schema<T>, extra: Extra = {}): Schema<Record<string, T>> {
  return { type: "object", additionalProperties: values, ...extra };
}

/** Any JSON object, kept as-is by the apiserver (not pruned). */
export function anyObject(extra: Extra = {}): Schema<Record<string, unknown>> {
  return { type: "object", "x-kubernetes-preserve-unknown-fields": true, ...extra };
}

type Props = Record<string, Schema<unknown>>;
type Simplify<T> = { [K in keyof T]: T[K] } & {};
type ObjectOf<P extends Props, R extends keyof P> = Simplify<
  { [K in R]: Static<P[K]> } & { [K in Exclude<keyof P, R>]?: Static<P[K]> }
>;

/** An object with known properties; `required` lists the ones that must be present. */
export function object<P extends Props, const R extends keyof P & string = never>(
  properties: P,
  options: Extra & { required?: readonly R[] } = {},
): Schema<ObjectOf<P, R>> {
  const { required, ...extra } = options;
  return {
    type: "object",
    properties,
    ...(required && required.length > 0 ? { required: [...required] } : {}),
    ...extra,
  };
}

/**
 * An object that declares (and validates) some properties and keeps any others
 * untouched: used for embedded Kubernetes types we only partly inspect.
 */
export function openObject<P extends Props, const R extends keyof P & string = never>(
  properties: P,
  options: Extra & { required?: readonly R[] } = {},
): Schema<ObjectOf<P, R> & Record<string, unknown>> {
  return { ...object(properties, options), "x-kubernetes-preserve-unknown-fields": true };
}

/**
 * One of several shapes. Not structural, so only for config-file schemas that
 * ajv checks, never in the CRD.
 */
export function union<A, B>(a: Schema<A>, b: Schema<B>, extra: Extra = {}): Schema<A | B> {
  return { anyOf: [a, b], ...extra };
}
