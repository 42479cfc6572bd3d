// The documented commands that no test runs, each with the reason it cannot run
// here. Every other command in README.md, docs/ and examples/ runs, as written,
// in a test (hack/doc-commands.ts says how they are found; the check is
// test/audit/doc-commands.test.ts). hack/doc-commands.test.ts checks that each
// entry still matches a documented command, and that the npm scripts named
// here exist, so this list cannot go stale or hide a renamed script.

export interface NotRun {
  /** The command as documented, or a pattern for a family of them. */
  command: string | RegExp;
  /** Why no test runs it. */
  why: string;
  /** npm scripts the command runs: each must exist in package.json. */
  npmScripts?: readonly string[];
  /**
   * An environment variable that, when set, lets a test run it after all: a
   * path to others' code, which CI does not have. Then the command may run.
   */
  runsWith?: string;
}

export const NOT_RUN: readonly NotRun[] = [
  // The project's own scripts. CI (.ci/run) runs `npm ci && npm test`, and
  // `npm test` runs the others by these names; a test cannot run the suite it is in.
  { command: "npm test", why: "the suite itself; CI runs it (.ci/run)", npmScripts: ["test"] },
  { command: "npm ci && npm test", why: "what CI runs (.ci/run)", npmScripts: ["test"] },
  {
    command: /^npm run (test:unit|test:integration|test:faults|verify)$/,
    why: "a part of `npm test`, which runs it by this name",
    npmScripts: ["test:unit", "test:integration", "test:faults", "verify"],
  },
  {
    command: "npm run gen",
    why: "rewrites the generated files; `npm test` runs its check mode, `npm run verify`",
    npmScripts: ["gen"],
  },
  {
    command: "npm run build",
    why: "the image's compile stage runs it (the image tests build the Dockerfile), and so does the benchmark",
    npmScripts: ["build"],
  },
  {
    command: "npm run build:native",
    why: "the image's spawn-helper stage runs it (the image tests build the Dockerfile), and so does the benchmark; the spawn helper's unit tests compile the same file with stricter warnings",
    npmScripts: ["build:native"],
  },
  {
    command: /^npm run image( -- --arch arm64)?$/,
    why: "the image tests build the targets through the same code (hack/image/build.ts), and the release test builds arm64 with it",
    npmScripts: ["image"],
  },
  // Builds the control plane the suites run on; the first suite to need it builds it.
  {
    command: "npm run cluster:build",
    why: "builds the control plane binaries, which every suite needs before it starts",
    npmScripts: ["cluster:build"],
  },
  {
    command: "npm ci && npm run demo",
    why: "npm ci would reinstall the node_modules the suite runs from: CI's .ci/run runs npm ci, and test/integration/demo.test.ts then runs npm run demo",
    npmScripts: ["demo"],
  },
  {
    command: /^(CPA_ORIGINAL_OPERATOR=\S+ CPA_ORIGINAL_RUNTIME=\S+ )?npm run bench( .*)?$/,
    why: "takes 8 to 35 minutes and never fails on a target; its numbers are in docs/benchmarks.md",
    npmScripts: ["bench"],
  },
  {
    command: /^npm run release -- --registry \S+$/,
    why: "builds FROM the official Node image, which cannot be pulled here: the test runs the --test-base form against the plane's registry",
    npmScripts: ["release"],
  },
  {
    command: /^npm run compat( .*)?$/,
    why: "needs a checkout of the original runtime, which CI does not have; each behaviour it checks has its own test (test/integration/corpus.test.ts, dropin.test.ts), and its latest run is in docs/compatibility.md",
    npmScripts: ["compat"],
  },
  {
    command: /^git (clone https:\/\/github\.com\/jthomperoo\/\S+ \S+|-C \S+ checkout v[\d.]+)$/,
    why: "fetches the original Go implementations from GitHub for the side-by-side benchmark; tests never need them",
  },
  // Tools this machine does not have, or places it cannot reach.
  {
    command: /^docker build /,
    why: "no Docker daemon here: the tests build the same Dockerfiles with buildah (hack/image, test/integration/docs.test.ts)",
  },
  { command: /^docker push /, why: "no registry to push to from the tests" },
  { command: /^(kind load docker-image|k3d image import) /, why: "kind and k3d are not installed here" },
  {
    command: "helm list -n default",
    why: "shows that the original's Helm release is gone; the migration from its chart runs only with its source (test/integration/helm.test.ts)",
    runsWith: "CPA_ORIGINAL_OPERATOR",
  },
  // Shown on purpose as what not to do.
  {
    command: "kubectl delete -f cluster.yaml",
    why: "the mistake docs/migrating.md warns against: it deletes the CRD and with it every CPA",
  },
  // Not a shell command on the reader's machine.
  {
    command: "python3 -m venv /opt/venv",
    why: "a step of a Dockerfile (docs/migrating.md's venv alternative), run by an image build",
  },
];

/** Whether an entry's command may have run in this suite (its runsWith variable is set). Pure. */
export const mayRun = (entry: NotRun, env: NodeJS.ProcessEnv): boolean =>
  entry.runsWith !== undefined && Boolean(env[entry.runsWith]);

/** The entry that covers a command, if any. */
export function notRunEntry(command: string): NotRun | undefined {
  return NOT_RUN.find((e) =>
    typeof e.command === "string" ? e.command === command : e.command.test(command),
  );
}
