/** One subcommand of the `cpa` CLI. Only entry points under src/cmd decide exit codes. */
export interface Command {
  name: string;
  summary: string;
  usage: string;
  run: (args: string[]) => Promise<number>;
}

/** The registry the CLI dispatches on; each subcommand adds itself here. */
export const commands: readonly Command[] = [];
