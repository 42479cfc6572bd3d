// `cpa run --root DIR`: a config written for an image names its files by their
// place in the image (`python /metric.py`, as the original's guide does, since
// its Dockerfile ADDs them to /). On a workstation those files sit in a folder;
// DIR stands for the image's `/`, and each absolute path in a method that
// exists under DIR is read from there. Other absolute paths (`/bin/sh`,
// `/usr/bin/python3`) are the workstation's own and stay as they are.
import { join } from "node:path";
import type { Method } from "../api/autoscaler-config.ts";
import type { Config } from "../autoscaler/config.ts";
import { STAGES } from "../autoscaler/stages.ts";

/** A path mapped from the image's `/` to the folder that stands for it. */
export interface RootedPath {
  stage: string;
  from: string;
  to: string;
}

/**
 * The config with every stage's absolute paths that exist under root mapped
 * there: the shell entrypoint and its arguments, a module's path, an HTTP
 * method's TLS files. Pure apart from `exists`.
 */
export function rootConfig(
  config: Config,
  root: string,
  exists: (path: string) => boolean,
): { config: Config; mapped: RootedPath[] } {
  const mapped: RootedPath[] = [];
  const out: Config = { ...config };
  for (const stage of STAGES) {
    const method = config[stage];
    if (!method) continue;
    const map = (path: string): string => {
      if (!path.startsWith("/")) return path;
      const to = join(root, path);
      if (!exists(to)) return path;
      mapped.push({ stage, from: path, to });
      return to;
    };
    out[stage] = rootMethod(method, map);
  }
  return { config: out, mapped };
}

function rootMethod(method: Method, map: (path: string) => string): Method {
  const out: Method = { ...method };
  const { shell, module, http } = method;
  if (typeof shell === "string") {
    out.shell = shell.trim().split(/\s+/).map(map).join(" ");
  } else if (shell) {
    out.shell = {
      ...shell,
      entrypoint: map(shell.entrypoint),
      ...(shell.command ? { command: shell.command.map(map) } : {}),
    };
  }
  if (module) out.module = { ...module, path: map(module.path) };
  if (http) {
    out.http = { ...http };
    for (const key of ["caCert", "clientCert", "clientKey"] as const) {
      const path = http[key];
      if (path !== undefined) out.http[key] = map(path);
    }
  }
  return out;
}
