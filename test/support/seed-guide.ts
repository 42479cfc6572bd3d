// The getting-started guide's files: config.yaml, metric.py, evaluate.py (and
// its doubling version), deployment.yaml and cpa.yaml. Tests use the copies in
// examples/getting-started; `seedGuideFromSeeds` takes them verbatim from the
// guide itself (../shared/seeds, beside the checkout) so a test can prove the
// copies are unchanged, i.e. that an autoscaler written for the original works
// as it is.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

const seedsDir =
  process.env["CPA_SEEDS_DIR"] ?? join(import.meta.dirname, "..", "..", "..", "shared", "seeds");

export interface SeedGuide {
  configYaml: string;
  metricPy: string;
  evaluatePy: string;
  evaluateDoublePy: string;
  deploymentYaml: string;
  cpaYaml: string;
}

function guideText(): string {
  if (!existsSync(seedsDir)) {
    throw new Error(
      `the seed guide is not at ${seedsDir}: the tests need ../shared/seeds beside the checkout (or CPA_SEEDS_DIR)`,
    );
  }
  for (const file of readdirSync(seedsDir)) {
    const text = readFileSync(join(seedsDir, file), "utf8");
    if (text.includes("Create a new file config.yaml:") && text.includes("create a new file cpa.yaml:"))
      return text;
  }
  throw new Error(`no getting-started guide with config.yaml and cpa.yaml found in ${seedsDir}`);
}

/** The text between a line that ends with `after` and the next line that starts with `before`. */
function between(text: string, after: string, before: string): string {
  const start = text.indexOf(after);
  if (start < 0) throw new Error(`the seed guide has no "${after}"`);
  const from = text.indexOf("\n", start + after.length) + 1;
  const end = text.indexOf(before, from);
  if (end < 0) throw new Error(`the seed guide has no "${before}" after "${after}"`);
  return `${text.slice(from, end).trim()}\n`;
}

const exampleDir = join(import.meta.dirname, "..", "..", "examples", "getting-started");

/** The guide's files as committed in examples/getting-started. */
export function seedGuide(): SeedGuide {
  const read = (file: string): string => readFileSync(join(exampleDir, file), "utf8");
  return {
    configYaml: read("config.yaml"),
    metricPy: read("metric.py"),
    evaluatePy: read("evaluate.py"),
    evaluateDoublePy: read("evaluate-double.py"),
    deploymentYaml: read("deployment.yaml"),
    cpaYaml: read("cpa.yaml"),
  };
}

/** Whether the seed guide is beside the checkout (it is on the development machines, not in a clone). */
export function seedsAvailable(): boolean {
  return existsSync(seedsDir);
}

/** The guide's files, extracted from the seed guide's text. */
export function seedGuideFromSeeds(): SeedGuide {
  const text = guideText();
  // The guide's text runs straight on after some blocks; cut the block where its prose resumes.
  const cut = (block: string, prose: string): string => {
    const at = block.indexOf(prose);
    return at < 0 ? block : `${block.slice(0, at).trimEnd()}\n`;
  };
  return {
    configYaml: cut(
      between(text, "Create a new file config.yaml:", "This configuration file"),
      "This configuration",
    ),
    metricPy: between(text, "Create a new file metric.py:", "The metric gathering stage"),
    evaluatePy: between(text, "Create a new file evaluate.py:", "The JSON value piped"),
    evaluateDoublePy: between(text, "modify the evaluation.py script to be like this:", "Rebuild the image"),
    deploymentYaml: cut(
      between(text, "create a deployment YAML file called deployment.yaml:", "This is a deployment"),
      "This is a deployment",
    ),
    cpaYaml: cut(between(text, "create a new file cpa.yaml:", "This YAML outlines"), "This YAML outlines"),
  };
}
