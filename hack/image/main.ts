// `npm run image`: builds images with buildah into the project's store, the one
// the local kubelet runs Pods from (installing the tools and making the test
// base on first use).
//   npm run image [-- --target T ...]            the Dockerfile's targets (all four unless named:
//                                                 runtime, python and their -dropin flavours), with times and sizes
//   npm run image -- --arch arm64 [--target T ...]  for another architecture, by emulation (tagged cpa:0.1.0-arm64;
//                                                 hack/enable-arm64.sh sets it up)
//   npm run image -- -t NAME DIR                  DIR's Dockerfile (FROM one of ours), tagged NAME,
//                                                 e.g. an example's image while `npm run demo -- --keep-running` runs
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { baseTargets, buildImages, buildUserImage, megabytes, TARGETS, type Target } from "./build.ts";
import { ImageError } from "./errors.ts";
import { parseArches } from "./platforms.ts";

const log = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

const { values, positionals } = parseArgs({
  options: {
    target: { type: "string", multiple: true },
    tag: { type: "string", short: "t" },
    arch: { type: "string" },
  },
  allowPositionals: true,
});
const known = TARGETS.map((t) => t.target);

async function main(): Promise<void> {
  if (values.tag !== undefined || positionals.length > 0) {
    const [dir, ...extra] = positionals;
    if (!values.tag || !dir || extra.length > 0)
      throw new ImageError(
        "usage: npm run image -- -t NAME DIR (DIR holds a Dockerfile FROM cpa or cpa-python)",
      );
    // Its FROM is one of ours: build those first (a no-op when the cache is warm).
    const context = resolve(process.env["INIT_CWD"] ?? process.cwd(), dir);
    const dockerfile = join(context, "Dockerfile");
    if (!existsSync(dockerfile)) throw new ImageError(`${dockerfile} does not exist`);
    await buildImages(log, baseTargets(readFileSync(dockerfile, "utf8")));
    const started = Date.now();
    await buildUserImage(values.tag, context);
    log(`Built ${values.tag} from ${dir}/Dockerfile in ${((Date.now() - started) / 1000).toFixed(1)}s`);
    return;
  }
  const targets = (values.target ?? known) as Target[];
  const unknown = targets.filter((t) => !known.includes(t));
  if (unknown.length > 0)
    throw new ImageError(`no target ${unknown.join(", ")}: the Dockerfile's are ${known.join(", ")}`);
  for (const arch of values.arch !== undefined ? parseArches(values.arch) : [undefined])
    for (const image of await buildImages(log, targets, arch ? { arch } : {}))
      process.stdout.write(
        `${image.tag}\t${image.arch}\t${image.seconds.toFixed(1)}s\t${megabytes(image.bytes)}\n`,
      );
}

try {
  await main();
} catch (err) {
  if (!(err instanceof ImageError)) throw err;
  log(`error: ${err.message}`);
  process.exitCode = 1;
}
