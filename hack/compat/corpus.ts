// The original runtime's own examples (its `example/` folder at v2.12.2), as
// `npm run compat` builds and runs them: which ones, what each one's README
// says happens, and the only lines of theirs we change, with why. Pure: the
// I/O is in run.ts; nothing of the original is in this repository.
import {
  PYTHON_DROPIN_IMAGE,
  PYTHON_IMAGE,
  RUNTIME_DROPIN_IMAGE,
  RUNTIME_IMAGE,
} from "../local-pods/images.ts";

/** Which of our image flavours the examples are built FROM (README, "The image"). */
export type Flavour = "dropin" | "hardened";
export const FLAVOURS: readonly Flavour[] = ["dropin", "hardened"];

/** What an example needs beside its own files. */
export type Need =
  /** ../flask-metric built and its deployment.yaml applied: the target whose Pods serve /metric. */
  | "flask-metric"
  /** The test metrics API (metrics.k8s.io) serving the target's Pods' CPU. */
  | "metrics-api"
  /** A Rollout CRD (argoproj.io/v1alpha1, with the scale subresource); Argo's controller is not needed. */
  | "rollout-crd"
  /** A local HTTP server the metric stage calls instead of random.org. */
  | "http-server"
  /** Its Go program built first, as its Makefile does. */
  | "go-build"
  /** Its image pushed to the plane's registry (imagePullPolicy: Always). */
  | "push";

/** The behaviour an example's README describes, which the check drives and observes. */
export type Behaviour =
  | "label-times-two"
  | "zero-and-back"
  | "post-scale-hook"
  | "rollout-label"
  | "cpu-utilisation"
  | "flask-up-down"
  | "flask-downscale-stabilised"
  | "http-metric";

/** A line of an example's file that cannot work here, what it becomes and why. */
export interface LineChange {
  file: "Dockerfile";
  /** The line as the example has it (trimmed). */
  was: string;
  now: string;
  why: string;
}

export interface Example {
  /** Its folder under example/. */
  name: string;
  /** What its README says happens, in a few words, for the table. */
  expects: string;
  behaviour: Behaviour;
  /** The manifest of the target, relative to the example's folder. */
  target: string;
  needs: readonly Need[];
  /** Lines other than FROM that must change here (the table lists them). */
  changes?: readonly LineChange[];
  /** A change to cpa.yaml that the example's README points at (the table lists it). */
  cpaChange?: string;
}

const APT_FOR_APK: LineChange = {
  file: "Dockerfile",
  was: "RUN apk add jq curl",
  now: "RUN apt-get update && apt-get install -y jq curl",
  why: "its base was Alpine (custompodautoscaler/alpine); ours is Debian, whose package manager is apt",
};

/** The examples of the original's example/ folder that need no JVM, in the order the check runs them. */
export const EXAMPLES: readonly Example[] = [
  {
    name: "python-custom-autoscaler",
    expects: "hello-kubernetes 1 → 6 (numPods label 3, times two)",
    behaviour: "label-times-two",
    target: "deployment.yaml",
    needs: [],
  },
  {
    name: "zero-scaler",
    expects: "3 → 0 (numPods 0, minReplicas 0), and back to 2 when the label says 2",
    behaviour: "zero-and-back",
    target: "deployment.yaml",
    needs: ["push"],
  },
  {
    name: "post-scale-hook",
    expects: "1 → 3; the postScale hook writes what it was given to /post_scale_data.json",
    behaviour: "post-scale-hook",
    target: "deployment.yaml",
    needs: [],
  },
  {
    name: "argo-rollouts",
    expects: "Rollout rollouts-demo 2 → 5 (numPods 5), then follows the label (3)",
    behaviour: "rollout-label",
    target: "rollout.yaml",
    needs: ["rollout-crd"],
  },
  {
    name: "k8s-metrics-cpu",
    expects:
      "php-apache gains a replica each run while its Pods' CPU averages over 50 (millicores: the script sums raw usage), loses one below, down to 1",
    behaviour: "cpu-utilisation",
    target: "deployment.yaml",
    needs: ["metrics-api"],
  },
  {
    name: "k8s-metrics-cpu-match-expressions",
    expects: "as k8s-metrics-cpu, with a matchExpressions selector",
    behaviour: "cpu-utilisation",
    target: "deployment.yaml",
    needs: ["metrics-api"],
  },
  {
    name: "downscale-stabilization",
    expects: "flask-metric 1 → 2 when a Pod has none available; down to 1 only after the 60 s window",
    behaviour: "flask-downscale-stabilised",
    target: "../flask-metric/deployment.yaml",
    needs: ["flask-metric"],
  },
  {
    name: "simple-pod-metrics-python",
    expects: "flask-metric 1 → 2 when a Pod has none available, 2 → 1 when more than 5 are",
    behaviour: "flask-up-down",
    target: "../flask-metric/deployment.yaml",
    needs: ["flask-metric"],
  },
  {
    name: "simple-pod-metrics-golang",
    expects: "as simple-pod-metrics-python, in Go (`make docker`: go build, then the image)",
    behaviour: "flask-up-down",
    target: "../flask-metric/deployment.yaml",
    needs: ["flask-metric", "go-build"],
    changes: [APT_FOR_APK],
  },
  {
    name: "http-request",
    expects: "hello-kubernetes follows the number the HTTP metric returns (4, then 2)",
    behaviour: "http-metric",
    target: "deployment.yaml",
    needs: ["http-server"],
    cpaChange:
      "a `metric` entry in spec.config (the env override the original documents) points the HTTP metric at a local server: random.org is out of reach here",
  },
];

/** flask-metric, the target the per-pod examples share: not built on our image. */
export const FLASK_METRIC: Example = {
  name: "flask-metric",
  expects: "serves /metric, /increment and /decrement on :5000",
  behaviour: "flask-up-down",
  target: "deployment.yaml",
  needs: [],
};

/** The image an original base becomes in a flavour. */
export function ourBase(original: string, flavour: Flavour): string | undefined {
  const [repo] = original.split(/[:@]/);
  const python = flavour === "dropin" ? PYTHON_DROPIN_IMAGE : PYTHON_IMAGE;
  const runtime = flavour === "dropin" ? RUNTIME_DROPIN_IMAGE : RUNTIME_IMAGE;
  switch (repo) {
    case "custompodautoscaler/python":
    case "docker.io/custompodautoscaler/python":
      return python;
    case "custompodautoscaler/alpine":
    case "docker.io/custompodautoscaler/alpine":
    case "custompodautoscaler/custom-pod-autoscaler":
      return runtime;
    default:
      return undefined;
  }
}

/** flask-metric's `FROM python`: Docker Hub's image, out of reach here; our drop-in Python stands in. */
export const PYTHON_STAND_IN: LineChange = {
  file: "Dockerfile",
  was: "FROM python",
  now: `FROM ${PYTHON_DROPIN_IMAGE}`,
  why: "Docker Hub's python image cannot be pulled here; our drop-in Python image (Debian, python3, pip, root) stands in",
};

export interface Rewritten {
  text: string;
  /** Each changed line: what it was and what it is now. */
  changed: { was: string; now: string }[];
}

export class CorpusError extends Error {
  override readonly name = "CorpusError";
}

/**
 * The example's Dockerfile with its FROM lines pointed at our images and the
 * listed changes made, every other line as it was. Fails when a FROM names an
 * image we have no flavour for, or a listed line is not there (the original
 * changed: the list must be read again).
 */
export function rewriteDockerfile(
  text: string,
  flavour: Flavour,
  changes: readonly LineChange[] = [],
  where = "Dockerfile",
): Rewritten {
  const pending = new Set(changes);
  const changed: Rewritten["changed"] = [];
  const lines = text.split("\n").map((line) => {
    const trimmed = line.trim();
    const listed = [...pending].find((c) => c.was === trimmed);
    if (listed) {
      pending.delete(listed);
      changed.push({ was: trimmed, now: listed.now });
      return listed.now;
    }
    const from = /^FROM\s+(\S+)(.*)$/i.exec(trimmed);
    if (!from) return line;
    const base = ourBase(from[1] ?? "", flavour);
    if (base === undefined)
      throw new CorpusError(
        `${where}: "${trimmed}" names an image cpa has no stand-in for; add its change to hack/compat/corpus.ts`,
      );
    const now = `FROM ${base}${from[2] ?? ""}`;
    changed.push({ was: trimmed, now });
    return now;
  });
  if (pending.size > 0)
    throw new CorpusError(
      `${where}: no line ${[...pending].map((c) => `"${c.was}"`).join(", ")}, which hack/compat/corpus.ts expects to change: the example is not the one it was written for`,
    );
  if (!changed.some((c) => /^FROM\s/i.test(c.now)))
    throw new CorpusError(`${where}: no FROM line to point at our image`);
  return { text: lines.join("\n"), changed };
}

/**
 * The CPA manifest with one entry added to spec.config (a copy; names an
 * entry already there are replaced, as an env var of that name would be).
 */
export function withConfigEntry<T extends { spec?: { config?: { name: string; value: string }[] } }>(
  cpa: T,
  name: string,
  value: string,
): T {
  const config = (cpa.spec?.config ?? []).filter((e) => e.name !== name);
  return { ...cpa, spec: { ...cpa.spec, config: [...config, { name, value }] } };
}

export type Outcome = "pass" | "fail" | "not built";

export interface Result {
  example: string;
  flavour: Flavour;
  outcome: Outcome;
  /** What was seen: the scale steps, or the error. */
  detail: string;
  seconds: number;
}

const cell = (text: string): string => text.replaceAll("|", "\\|").replaceAll("\n", " ");

/** The lines the check changes, for the table: FROM always; the others by example. */
export function changesFor(example: Example): string {
  const other = [
    ...(example.changes ?? []).map((c) => `\`${c.was}\` → \`${c.now}\` (${c.why})`),
    ...(example.cpaChange ? [`cpa.yaml: ${example.cpaChange}`] : []),
    ...(example.needs.includes("flask-metric") ? ["flask-metric: `FROM python` → our drop-in Python"] : []),
  ];
  return other.length === 0 ? "FROM only" : `FROM; ${other.join("; ")}`;
}

/** The results as a Markdown table: one row per example, a column per flavour run. */
export function renderTable(results: readonly Result[], examples: readonly Example[] = EXAMPLES): string {
  const flavours = FLAVOURS.filter((f) => results.some((r) => r.flavour === f));
  const mark = (r: Result | undefined): string =>
    r === undefined
      ? "not run"
      : `${r.outcome === "pass" ? "✅ pass" : r.outcome === "fail" ? "❌ fail" : "⛔ not built"}: ${cell(r.detail)}`;
  const header = ["example", "its README says", "lines changed", ...flavours.map((f) => `on ${f}`)];
  const rows = examples
    .filter((e) => results.some((r) => r.example === e.name))
    .map((e) => [
      `\`${e.name}\``,
      cell(e.expects),
      cell(changesFor(e)),
      ...flavours.map((f) => mark(results.find((r) => r.example === e.name && r.flavour === f))),
    ]);
  return [header, header.map(() => "---"), ...rows].map((r) => `| ${r.join(" | ")} |`).join("\n");
}

/** Whether the run passes: every example run on the drop-in flavour passed (the hardened one is informative). */
export function passed(results: readonly Result[]): boolean {
  return results.filter((r) => r.flavour === "dropin").every((r) => r.outcome === "pass");
}

export const BEGIN = "<!-- compat:begin (npm run compat -- --record writes this part) -->";
export const END = "<!-- compat:end -->";

/** docs/compatibility.md with the recorded part replaced. */
export function recordInto(doc: string, recorded: string): string {
  const start = doc.indexOf(BEGIN);
  const end = doc.indexOf(END);
  if (start < 0 || end < start)
    throw new Error(`docs/compatibility.md: no ${BEGIN} … ${END} part to write into`);
  return `${doc.slice(0, start + BEGIN.length)}\n${recorded}\n${doc.slice(end)}`;
}

const lastLines = (text: string, n: number): string =>
  text
    .trim()
    .split("\n")
    .filter((l) => l.trim() !== "")
    .slice(-n)
    .join(" / ");

/** Which RUN step failed and why, from buildah's output, in a line. Pure. */
export function buildFailure(output: string, flavour: Flavour): string {
  const step = /building at STEP "([^"]+)"/.exec(output)?.[1];
  if (!step) return lastLines(output, 2);
  const hardened = flavour === "hardened";
  const why =
    hardened && /apt-get|apk /.test(step)
      ? ": RUN steps run as uid 65532 there, which cannot install Debian packages"
      : hardened && step.includes("pip ")
        ? ": the hardened image has no pip"
        : `: ${lastLines(output, 1)}`;
  return `\`${step}\` fails${why}`;
}
