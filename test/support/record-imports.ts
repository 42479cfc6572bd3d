// Preloaded with `node --import` (NODE_OPTIONS): appends the URL of every module
// the process resolves to $CPA_IMPORT_LOG, so a test can tell what a command
// loaded (e.g. that the operator in a Pod never loads @kubernetes/client-node).
import { appendFileSync } from "node:fs";
import { registerHooks } from "node:module";

const log = process.env["CPA_IMPORT_LOG"];
if (log) {
  registerHooks({
    resolve(specifier, context, nextResolve) {
      const resolved = nextResolve(specifier, context);
      appendFileSync(log, `${resolved.url}\n`);
      return resolved;
    },
  });
}
