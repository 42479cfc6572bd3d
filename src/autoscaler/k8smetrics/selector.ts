// A metav1.LabelSelector ({matchLabels, matchExpressions}) to the string the
// APIs take in labelSelector / metricLabelSelector, rendered as Go's
// labels.Selector.String(): requirements sorted by key, set values sorted,
// "k=v", "k in (a,b)", "k notin (a,b)", "k", "!k". No selector, or an empty
// one, is "" (the parameter is then left out).

export class SelectorError extends Error {
  override readonly name = "SelectorError";
}

interface Requirement {
  key: string;
  text: string;
}

const byText = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

export function labelSelectorString(selector: unknown): string {
  if (selector === undefined || selector === null) return "";
  if (!isObject(selector))
    throw new SelectorError(`selector must be an object, got ${JSON.stringify(selector)}`);
  const requirements = [
    ...matchLabelRequirements(selector["matchLabels"]),
    ...matchExpressionRequirements(selector["matchExpressions"]),
  ];
  // A stable sort by key, as Go sorts the requirements before rendering them.
  return requirements
    .sort((a, b) => byText(a.key, b.key))
    .map((r) => r.text)
    .join(",");
}

function matchLabelRequirements(matchLabels: unknown): Requirement[] {
  if (matchLabels === undefined || matchLabels === null) return [];
  if (!isObject(matchLabels)) throw new SelectorError("matchLabels must be a map of label to value");
  return Object.entries(matchLabels).map(([key, value]) => {
    if (typeof value !== "string") {
      throw new SelectorError(`matchLabels.${key} must be a string, got ${JSON.stringify(value)}`);
    }
    return { key: checkKey(key), text: `${key}=${checkValue(key, value)}` };
  });
}

function matchExpressionRequirements(expressions: unknown): Requirement[] {
  if (expressions === undefined || expressions === null) return [];
  if (!Array.isArray(expressions)) throw new SelectorError("matchExpressions must be a list");
  return expressions.map((e: unknown, i) => expressionRequirement(e, i));
}

function expressionRequirement(expression: unknown, index: number): Requirement {
  const where = `matchExpressions[${index}]`;
  if (!isObject(expression)) throw new SelectorError(`${where} must be an object`);
  const { key, operator, values = [] } = expression;
  if (typeof key !== "string") throw new SelectorError(`${where}.key must be a string`);
  checkKey(key);
  if (!Array.isArray(values) || !values.every((v): v is string => typeof v === "string")) {
    throw new SelectorError(`${where}.values must be a list of strings`);
  }
  switch (operator) {
    case "In":
    case "NotIn": {
      if (values.length === 0) throw new SelectorError(`${where}: operator ${operator} needs values`);
      const set = [...new Set(values)]
        .map((v) => checkValue(key, v))
        .sort(byText)
        .join(",");
      return { key, text: `${key} ${operator === "In" ? "in" : "notin"} (${set})` };
    }
    case "Exists":
    case "DoesNotExist":
      if (values.length > 0) throw new SelectorError(`${where}: operator ${operator} takes no values`);
      return { key, text: operator === "Exists" ? key : `!${key}` };
    default:
      throw new SelectorError(
        `${where}: ${JSON.stringify(operator)} is not a label selector operator (In, NotIn, Exists, DoesNotExist)`,
      );
  }
}

// Label syntax as the API server validates it; checked here so a bad spec fails with its own message.
const LABEL_KEY =
  /^(?:[a-z0-9](?:[-a-z0-9.]{0,251}[a-z0-9])?\/)?[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const LABEL_VALUE = /^(?:[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/;

function checkKey(key: string): string {
  if (!LABEL_KEY.test(key)) throw new SelectorError(`"${key}" is not a valid label key`);
  return key;
}

function checkValue(key: string, value: string): string {
  if (!LABEL_VALUE.test(value)) throw new SelectorError(`"${value}" is not a valid value for label ${key}`);
  return value;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
