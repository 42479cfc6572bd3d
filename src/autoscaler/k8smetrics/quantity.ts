// Kubernetes quantities ("250m", "1.5", "128Mi", "2e3", "12345n") to
// milli-units, exactly as Go's resource.Quantity.MilliValue(): the value times
// 1000, rounded away from zero (ceil for the positive values metrics have).
// BigInt keeps it exact; only the final number may lose precision above 2^53.

const DECIMAL_SUFFIX: Readonly<Record<string, number>> = {
  "": 0,
  n: -9,
  u: -6,
  m: -3,
  k: 3,
  M: 6,
  G: 9,
  T: 12,
  P: 15,
  E: 18,
};

const BINARY_SUFFIX: Readonly<Record<string, number>> = { Ki: 1, Mi: 2, Gi: 3, Ti: 4, Pi: 5, Ei: 6 };

// sign, integer digits, fraction digits, then a suffix: SI, binary, or a decimal exponent.
// "2E" is 2 exa, "2E3" is 2000: the exponent alternative is tried when the SI one cannot end the string.
const QUANTITY = /^([+-]?)(\d*)(?:\.(\d*))?(?:(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE])|[eE]([+-]?\d+))?$/;

/** Exponents beyond this are refused rather than computed (no metric is 10^1000). */
const MAX_EXPONENT = 1000;

export class QuantityError extends Error {
  override readonly name = "QuantityError";
}

/** The quantity in milli-units, rounded away from zero like Go's MilliValue. Throws QuantityError. */
export function milliValue(quantity: unknown): number {
  const { negative, digits, power10, power1024 } = parseQuantity(quantity);
  let value = BigInt(digits) * 1024n ** BigInt(power1024);
  if (power10 >= 0) {
    value *= 10n ** BigInt(power10);
  } else {
    const divisor = 10n ** BigInt(-power10);
    value = value / divisor + (value % divisor === 0n ? 0n : 1n);
  }
  return Number(negative ? -value : value);
}

/** milli-units = digits × 10^power10 × 1024^power1024, with the sign apart. */
interface ParsedQuantity {
  negative: boolean;
  digits: string;
  power10: number;
  power1024: number;
}

function parseQuantity(quantity: unknown): ParsedQuantity {
  const text = typeof quantity === "number" ? String(quantity) : quantity;
  if (typeof text !== "string")
    throw new QuantityError(`expected a quantity, got ${JSON.stringify(quantity)}`);
  const match = QUANTITY.exec(text.trim());
  const [, sign = "", whole = "", fraction = "", suffix = "", exponent] = match ?? [];
  if (!match || whole + fraction === "") {
    throw new QuantityError(`"${text}" is not a quantity (like 250m, 1.5, 128Mi or 2e3)`);
  }
  const scale = exponent === undefined ? (DECIMAL_SUFFIX[suffix] ?? 0) : Number(exponent);
  const power10 = 3 - fraction.length + scale;
  if (Math.abs(power10) > MAX_EXPONENT) throw new QuantityError(`"${text}" is out of range`);
  return { negative: sign === "-", digits: whole + fraction, power10, power1024: BINARY_SUFFIX[suffix] ?? 0 };
}
