import { readFileSync } from "node:fs";
import { join } from "node:path";
import { commands, type Command } from "./commands.ts";
import { UsageError } from "./flags.ts";
import { processIo, type Io } from "./io.ts";

const { version } = JSON.parse(
  readFileSync(join(import.meta.dirname, "..", "..", "package.json"), "utf8"),
) as {
  version: string;
};

/** Where the CLI writes; tests pass their own. */
export type { Io };

export function helpText(available: readonly Command[]): string {
  const width = Math.max("--version".length, ...available.map((c) => c.name.length)) + 3;
  return [
    "cpa: the Custom Pod Autoscaler (operator and autoscaler runtime)",
    "",
    "Usage: cpa <command> [options]",
    "",
    "Commands:",
    ...available.map((c) => `  ${c.name.padEnd(width)}${c.summary}`),
    "",
    "Options:",
    `  ${"--help".padEnd(width)}show this help, or a command's with \`cpa <command> --help\``,
    `  ${"--version".padEnd(width)}print the version`,
    "",
  ].join("\n");
}

const isHelp = (arg: string | undefined): boolean =>
  arg === undefined || ["--help", "-h", "help"].includes(arg);

export async function main(
  argv: string[],
  available: readonly Command[] = commands,
  io: Io = processIo,
): Promise<number> {
  const [name, ...rest] = argv;
  if (isHelp(name)) {
    (name === undefined ? io.err : io.out)(helpText(available));
    return name === undefined ? 2 : 0;
  }
  if (name === "--version" || name === "-v") {
    io.out(`cpa ${version}\n`);
    return 0;
  }
  const command = available.find((c) => c.name === name);
  if (!command) {
    io.err(`cpa: unknown command "${name}"\n\n${helpText(available)}`);
    return 2;
  }
  if (rest.includes("--help") || rest.includes("-h")) {
    io.out(`${command.usage}\n`);
    return 0;
  }
  try {
    return await command.run(rest);
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`cpa ${command.name}: ${err.message}\n\n${command.usage}\n`);
      return 2;
    }
    // Anything else that reaches here is a problem to report, not a crash to
    // dump: the message names what went wrong; CPA_DEBUG=1 adds the stack.
    if (!(err instanceof Error) || process.env["CPA_DEBUG"] === "1") throw err;
    io.err(`cpa ${command.name}: ${err.message}\n`);
    return 1;
  }
}

if (import.meta.main) {
  process.exitCode = await main(process.argv.slice(2));
}
