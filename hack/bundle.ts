// The last step of `npm run build`: bundles the compiled sources (dist/, from tsc)
// into dist/bundle/, which the image ships and bin/cpa runs.
//
// Why: Node keeps a per-module cost (loader records, wrapper, compiled top level)
// for each of the hundreds of files yaml, pino and our own sources span. One file
// per command, plus the chunks they share, idles about 10 MB lower
// (docs/benchmarks.md). Commands stay lazy: `cpa operator` never loads the
// autoscaler's code, and the reverse.
//
// Output: dist/bundle/{main,operator,autoscaler,run,validate,record,replay}.js and shared
// chunk-*.js. dist/bundle is two folders below the root, as dist/cmd is, so
// paths computed from import.meta (package.json) resolve the same.
import { build } from "esbuild";
import { rmSync } from "node:fs";
import { join } from "node:path";

// Self-contained (the image's compile stage copies only this file of hack/).
const repoRoot = join(import.meta.dirname, "..");

const outdir = join(repoRoot, "dist", "bundle");
rmSync(outdir, { recursive: true, force: true });
const commands = ["main", "operator", "autoscaler", "run", "validate", "record", "replay"];
await build({
  entryPoints: commands.map((c) => join(repoRoot, "dist", "cmd", `${c}.js`)),
  outdir,
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node26",
  // Loaded only outside a cluster (kubeconfig files), from node_modules, as before; and
  // the chart libraries of `cpa replay --out`, which the image leaves out (devDependencies).
  external: ["@kubernetes/client-node", "vega", "vega-lite", "@resvg/resvg-js", "dejavu-fonts-ttf"],
  // CommonJS dependencies (pino) require Node's built-in modules; an ES module
  // has no `require` of its own.
  banner: {
    js: `import { createRequire as __cpaRequire } from "node:module"; const require = __cpaRequire(import.meta.url);`,
  },
  chunkNames: "chunk-[hash]",
  legalComments: "linked",
  logLevel: "warning",
});
