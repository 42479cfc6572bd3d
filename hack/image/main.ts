// `npm run image`: builds the Dockerfile's targets with buildah (installing the
// tools and making the test base on first use) and prints their times and sizes.
//   npm run image [-- --target runtime|python]
import { parseArgs } from "node:util";
import { buildImages, megabytes, TARGETS, type Target } from "./build.ts";
import { ImageError } from "./errors.ts";

const log = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

const { values } = parseArgs({ options: { target: { type: "string", multiple: true } } });
const known = TARGETS.map((t) => t.target);
const targets = (values.target ?? known) as Target[];
try {
  const unknown = targets.filter((t) => !known.includes(t));
  if (unknown.length > 0)
    throw new ImageError(`no target ${unknown.join(", ")}: the Dockerfile's are ${known.join(", ")}`);
  for (const image of await buildImages(log, targets))
    process.stdout.write(`${image.tag}\t${image.seconds.toFixed(1)}s\t${megabytes(image.bytes)}\n`);
} catch (err) {
  if (!(err instanceof ImageError)) throw err;
  log(`error: ${err.message}`);
  process.exitCode = 1;
}
