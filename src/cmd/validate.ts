// `cpa validate <config.yaml>`: checks a configuration offline, as the
// autoscaler would read it (including env overrides), and prints the result.
import { stringify } from "yaml";
import { ConfigError, loadConfig } from "../autoscaler/config.ts";
import { buildStages } from "../autoscaler/assemble.ts";
import { createLogger } from "../lib/log.ts";
import { UsageError } from "./flags.ts";

export function runValidate(args: string[], out: (s: string) => void, err: (s: string) => void): number {
  const files = args.filter((a) => !a.startsWith("-"));
  if (files.length !== 1 || files[0] === undefined) throw new UsageError("give exactly one config file");
  const path = files[0];
  try {
    const { config, sources, warnings } = loadConfig(process.env, path);
    // Building the runners checks what the schema cannot: TLS files, method blocks.
    void buildStages(config, createLogger("cpa-validate", "silent")).close();
    const { configDir: _dir, ...effective } = config;
    const fromEnv = Object.entries(sources)
      .filter(([, s]) => s.kind === "env")
      .map(([k]) => k);
    out(
      `# ${path} is valid. Effective configuration (defaults applied${fromEnv.length ? `; from env: ${fromEnv.join(", ")}` : ""}):\n`,
    );
    out(stringify(effective, { lineWidth: 0 }));
    for (const warning of warnings) err(`warning: ${warning}\n`);
    return 0;
  } catch (e) {
    if (e instanceof ConfigError) {
      err(`${path}: ${e.message}\n`);
      return 1;
    }
    if (e instanceof Error) {
      err(`${path}: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
}
