// CEL for the admission policies the operator ships (admission-policy.ts,
// pod-cost-policy.ts). Pure.

/** A CEL string literal holding `value`. */
export function cel(value: string): string {
  return `'${value.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
}
