// What the runtime's libraries cost at import, and what a process's size costs
// each spawn: each measured in a fresh Node process of its own, so one
// measurement never carries another's memory.
import { execFileSync } from "node:child_process";
import { repoRoot } from "../plane/config.ts";
import { round } from "./stats.ts";

export interface ImportCost {
  module: string;
  /** RSS after importing it, minus a bare process's, MB (median of 3). */
  rssMb: number;
  /** Time the import took, ms (median of 3). */
  ms: number;
}

export interface SpawnCost {
  /** RSS of the spawning process, MB. */
  rssMb: number;
  /** One spawn of /bin/true, start to exit, ms (median of 20). */
  ms: number;
}

const node = (): string => process.execPath;
const median = (xs: number[]): number =>
  [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;

function probe(script: string): { rssMb: number; ms: number } {
  const out = execFileSync(node(), ["--input-type=module", "-e", script], {
    cwd: repoRoot,
    encoding: "utf8",
  });
  return JSON.parse(out) as { rssMb: number; ms: number };
}

const importScript = (specifier: string): string => `
  const t = performance.now();
  ${specifier ? `await import(${JSON.stringify(specifier)});` : ""}
  const ms = performance.now() - t;
  globalThis.gc?.();
  process.stdout.write(JSON.stringify({ rssMb: process.memoryUsage.rss() / 1048576, ms }));
`;

/** The libraries the runtime loads, and our own entry points, compiled (dist/ must be built). */
export const IMPORTED = [
  "pino",
  "ajv",
  "yaml",
  "@kubernetes/client-node",
  "./dist/cmd/autoscaler.js",
  "./dist/cmd/operator.js",
];

export function measureImports(): ImportCost[] {
  const baseline = median([0, 1, 2].map(() => probe(importScript("")).rssMb));
  return IMPORTED.map((module) => {
    const runs = [0, 1, 2].map(() => probe(importScript(module)));
    return {
      module,
      rssMb: round(median(runs.map((r) => r.rssMb)) - baseline),
      ms: round(median(runs.map((r) => r.ms))),
    };
  });
}

/** Spawns of /bin/true from processes holding 0, 100 and 300 MB of heap. */
export function measureSpawnCost(): SpawnCost[] {
  return [0, 100, 300].map((mb) => {
    const script = `
      import { spawnSync } from "node:child_process";
      const ballast = Array.from({ length: ${mb} }, () => Buffer.alloc(1048576, 1));
      const times = [];
      for (let i = 0; i < 20; i++) {
        const t = performance.now();
        spawnSync("/bin/true");
        times.push(performance.now() - t);
      }
      times.sort((a, b) => a - b);
      process.stdout.write(JSON.stringify({ rssMb: process.memoryUsage.rss() / 1048576, ms: times[10], keep: ballast.length }));
    `;
    const r = probe(script);
    return { rssMb: round(r.rssMb), ms: round(r.ms) };
  });
}
