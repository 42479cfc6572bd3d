import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { parse, parseAllDocuments } from "yaml";
import { CONFIG_DEFAULTS, configSchema, methodSchema } from "../src/api/autoscaler-config.ts";
import { customResourceDefinition } from "../src/api/crd.ts";
import { SPEC_DEFAULTS, specSchema, statusSchema } from "../src/api/custom-pod-autoscaler.ts";
import { integer, object, string, union, type JsonSchema } from "../src/api/schema.ts";
import { MANAGED_BY_LABEL, MANAGED_BY_VALUE } from "../src/api/names.ts";
import { commands } from "../src/cmd/commands.ts";
import type { KubeHttp } from "../src/kube/http.ts";
import {
  autoscalerMetrics,
  instrumentKubeRequests,
  newRegistry,
  operatorMetrics,
} from "../src/lib/metrics.ts";
import { clusterBundle } from "./bundles.ts";
import { configReference, crdReference, fields, inline, table } from "./docs.ts";
import { repoRoot } from "./plane/config.ts";

const crdPage = crdReference(customResourceDefinition(), { specDefaults: SPEC_DEFAULTS });
const configPage = configReference(configSchema, { method: methodSchema });

/** The cells of the table row documenting `path` (the generator's own output is one row per line). */
function row(page: string, path: string): string[] {
  const line = page.split("\n").find((l) => l.startsWith(`| \`${path}\` |`));
  assert.ok(line, `no row for ${path}`);
  return line
    .slice(1, -1)
    .split(/(?<!\\)\|/)
    .map((c) => c.trim());
}

/** Every property path under a node, as the reference names them (`[]` for list items). */
function allPaths(node: JsonSchema, prefix: string): string[] {
  const join = (name: string) => (prefix ? `${prefix}.${name}` : name);
  const items = node.items ? allPaths(node.items, `${prefix}[]`) : [];
  const branches = (node.anyOf ?? []).flatMap((b) => allPaths(b, prefix));
  const props = Object.entries(node.properties ?? {}).flatMap(([name, child]) => [
    join(name),
    ...allPaths(child, join(name)),
  ]);
  return [...props, ...items, ...branches];
}

test("every spec and status field of the CRD has a row in the CRD reference", () => {
  const paths = [...allPaths(specSchema, "spec"), ...allPaths(statusSchema, "status")];
  assert.ok(paths.length > 30);
  for (const path of paths) row(crdPage, path);
});

test("a CRD row carries type, required, validation and description", () => {
  const [, type, required, , validation, description] = row(crdPage, "spec.config[].name");
  assert.equal(type, "string");
  assert.equal(required, "yes");
  assert.match(validation ?? "", /max length 253/);
  assert.match(validation ?? "", /must be a valid environment variable name/);
  assert.match(description ?? "", /passed to the autoscaler Pod as an env var/);
  assert.match(row(crdPage, "status.conditions[].status")[4] ?? "", /one of `True`, `False`, `Unknown`/);
});

test("the operator's defaults for unset spec flags appear in the default column", () => {
  assert.equal(row(crdPage, "spec.provisionPod")[3], "`true`");
  assert.equal(row(crdPage, "spec.roleRequiresArgoRollouts")[3], "`false`");
  assert.equal(row(crdPage, "spec.scaleTargetRef.name")[3], "");
});

test("spec.template documents the declared part of the PodTemplateSpec, not the whole PodSpec", () => {
  assert.match(row(crdPage, "spec.template")[5] ?? "", /core\/v1 PodTemplateSpec/);
  assert.match(row(crdPage, "spec.template.spec")[4] ?? "", /other fields kept as given/);
  assert.doesNotMatch(crdPage, /spec\.template\.spec\.(volumes|nodeSelector|affinity)/);
});

test("the CRD reference names the kind, short name, scope and printer columns", () => {
  for (const text of [
    "`CustomPodAutoscaler`",
    "`cpa`",
    "Namespaced",
    "`.status.lastScaleTime`",
    "Last Scale",
  ]) {
    assert.ok(crdPage.includes(text), text);
  }
  assert.match(crdPage, /\| `v1alpha1` \| yes \| no \| Deprecated:/);
});

test("every config key, nested key and method key has a row in the config reference", () => {
  const isMethod = (node: JsonSchema) => node.properties === methodSchema.properties;
  for (const [key, node] of Object.entries(configSchema.properties ?? {})) {
    row(configPage, key);
    if (!isMethod(node)) for (const path of allPaths(node, key)) row(configPage, path);
  }
  for (const path of allPaths(methodSchema, "")) row(configPage, path);
  assert.match(row(configPage, "metric")[1] ?? "", /\[method\]\(#methods\)/);
});

test("config rows show the runtime's defaults, allowed values and descriptions", () => {
  const [, type, , defaultValue, validation, description] = row(configPage, "interval");
  assert.equal(type, "integer");
  assert.equal(defaultValue, `\`${CONFIG_DEFAULTS.interval}\``);
  assert.equal(validation, "minimum 1; maximum 2147483647");
  assert.equal(description, "Milliseconds between runs (at most 2147483647, about 24.8 days).");
  assert.match(row(configPage, "runMode")[4] ?? "", /one of `per-pod`, `per-resource`/);
  assert.equal(row(configPage, "apiConfig.host")[3], '`"0.0.0.0"`');
  assert.equal(row(configPage, "timeout")[3], "`30000`");
  assert.equal(row(configPage, "behavior.scaleDown.stabilizationWindowSeconds")[3], "`300`");
  assert.equal(row(configPage, "behavior.scaleUp.stabilizationWindowSeconds")[3], "`0`");
});

test("the config reference says env vars override the file and links the configuration guide", () => {
  const intro = configPage.slice(0, configPage.indexOf("## "));
  assert.match(intro, /environment variable named exactly like a top-level key/);
  assert.ok(intro.includes("(../configuration.md)"));
});

test("every documented field has a description", () => {
  const all = [
    ...fields(specSchema, "spec"),
    ...fields(statusSchema, "status"),
    ...fields(configSchema, ""),
    ...fields(methodSchema, ""),
  ];
  assert.deepEqual(
    all.filter((f) => f.description === "").map((f) => f.path),
    [],
  );
});

test("a union lists its object branch's fields and its other branches' descriptions", () => {
  const schema = object({
    shell: union(
      object({ entrypoint: string({ description: "Program." }) }, { required: ["entrypoint"] }),
      string({ description: "Old form." }),
      { description: "Shell." },
    ),
    n: integer({ minimum: 1, default: 2, description: "N." }),
  });
  assert.deepEqual(
    fields(schema, "").map((f) => [f.path, f.type, f.required, f.description]),
    [
      ["shell", "object or string", false, "Shell. Old form."],
      ["shell.entrypoint", "string", true, "Program."],
      ["n", "integer", false, "N."],
    ],
  );
});

test("table cells stay on one line with pipes escaped", () => {
  assert.equal(
    table(["a", "b"], [["x | y", "two\nlines"]]),
    "| a | b |\n| --- | --- |\n| x \\| y | two lines |\n",
  );
});

test("defaults are written in YAML flow style", () => {
  assert.equal(
    inline({ enabled: true, host: "0.0.0.0", name: "default", list: [1, ""] }),
    '{enabled: true, host: "0.0.0.0", name: default, list: [1, ""]}',
  );
});

// ---------------------------------------------------------------------------
// docs/operator.md, "Monitoring": the metrics it lists are the ones the code
// registers, and its manifests select what the bundles and examples define.

const operatorPage = readFileSync(join(repoRoot, "docs", "operator.md"), "utf8");
const monitoringStart = operatorPage.indexOf("\n## Monitoring\n");
const monitoring = operatorPage.slice(monitoringStart, operatorPage.indexOf("\n## ", monitoringStart + 1));

/** Every metric the operator and the autoscaler register, with its label names. */
function registeredMetrics(): Map<string, string[]> {
  const registry = newRegistry();
  operatorMetrics(registry, () => 0);
  autoscalerMetrics(registry);
  // instrumentKubeRequests only subscribes to the transport's observer.
  instrumentKubeRequests(registry, { observe: () => undefined } as unknown as KubeHttp);
  return new Map(registry.describe().map((m) => [m.name, [...m.labelNames]]));
}

/** The YAML documents of the block that follows `<!-- monitoring: name -->`. */
function monitoringYaml(name: string): Record<string, unknown>[] {
  const marker = `<!-- monitoring: ${name} -->`;
  const at = monitoring.indexOf(marker);
  assert.ok(at >= 0, `no ${marker} in docs/operator.md`);
  const block = /```yaml\n([\s\S]*?)```/.exec(monitoring.slice(at));
  assert.ok(block?.[1], `no yaml block after ${marker}`);
  return parseAllDocuments(block[1]).map((d) => d.toJS() as Record<string, unknown>);
}

const at = (obj: unknown, ...path: (string | number)[]): unknown =>
  path.reduce<unknown>(
    (o, k) => (typeof o === "object" && o !== null ? (o as Record<string, unknown>)[String(k)] : undefined),
    obj,
  );

describe("docs/operator.md, Monitoring", () => {
  const metrics = registeredMetrics();
  const ours = [...metrics.keys()].filter((m) => !m.startsWith("cpa_process_"));

  test("lists every cpa_ metric the code registers, with exactly its labels", () => {
    assert.ok(ours.length >= 11, ours.join(", "));
    for (const name of ours) {
      const row = monitoring.split("\n").find((l) => l.startsWith(`| \`${name}\``));
      assert.ok(row, `docs/operator.md does not list ${name}`);
      const cells = row.split("|").map((c) => c.trim());
      const labels = [...(cells[3] ?? "").matchAll(/`([a-z_]+)`/g)].map((m) => m[1]);
      assert.deepEqual(labels.sort(), (metrics.get(name) ?? []).sort(), `labels of ${name}`);
    }
  });

  test("names no metric that does not exist", () => {
    const named = new Set([...monitoring.matchAll(/\b(cpa_[a-z0-9_]+)\b/g)].map((m) => m[1] ?? ""));
    // The prefix itself, and cpa_condition (kube-state-metrics' metric name, checked below), are not ours.
    const notMetrics = new Set(["cpa_process_", "cpa_condition"]);
    const unknown = [...named].filter((n) => !metrics.has(n) && !notMetrics.has(n));
    assert.deepEqual(unknown, []);
  });

  test("the PodMonitors select the operator's Pods and port, and the autoscaler Pods and the examples' API port", () => {
    const [operatorMonitor, autoscalerMonitor] = monitoringYaml("pod-monitors");
    const deployment = clusterBundle().find((o) => at(o, "kind") === "Deployment");
    const podLabels = at(deployment, "spec", "template", "metadata", "labels") as Record<string, string>;
    const selector = at(operatorMonitor, "spec", "selector", "matchLabels") as Record<string, string>;
    for (const [k, v] of Object.entries(selector)) assert.equal(podLabels[k], v, `operator Pods' label ${k}`);
    const ports = at(deployment, "spec", "template", "spec", "containers", 0, "ports") as { name: string }[];
    assert.ok(ports.some((p) => p.name === at(operatorMonitor, "spec", "podMetricsEndpoints", 0, "port")));

    assert.deepEqual(at(autoscalerMonitor, "spec", "selector", "matchLabels"), {
      [MANAGED_BY_LABEL]: MANAGED_BY_VALUE,
    });
    const apiPort = at(autoscalerMonitor, "spec", "podMetricsEndpoints", 0, "port");
    for (const example of ["per-pod", "module", "http"]) {
      const cpa = parse(readFileSync(join(repoRoot, "examples", example, "cpa.yaml"), "utf8")) as unknown;
      const declared = at(cpa, "spec", "template", "spec", "containers", 0, "ports") as
        { name: string; containerPort: number }[] | undefined;
      assert.deepEqual(
        declared?.find((p) => p.name === apiPort)?.containerPort,
        CONFIG_DEFAULTS.apiConfig.port,
        `examples/${example}/cpa.yaml declares ${String(apiPort)}`,
      );
    }
  });

  test("the ServiceMonitor's Service selects the operator's Pods by the port the Deployment names", () => {
    const [service, serviceMonitor] = monitoringYaml("service-monitor");
    assert.deepEqual(at(service, "spec", "selector"), { "app.kubernetes.io/name": "cpa-operator" });
    assert.equal(at(service, "spec", "ports", 0, "targetPort"), "http");
    assert.deepEqual(
      at(serviceMonitor, "spec", "selector", "matchLabels"),
      at(service, "metadata", "labels"),
    );
  });

  test("the alerts use metrics that exist, and the kube-state-metrics one is the one configured", () => {
    const [ksm] = monitoringYaml("kube-state-metrics");
    const resource = at(ksm, "spec", "resources", 0);
    assert.deepEqual(at(resource, "groupVersionKind"), {
      group: "custompodautoscaler.com",
      version: "v1",
      kind: "CustomPodAutoscaler",
    });
    const ksmMetric = `kube_customresource_${String(at(resource, "metrics", 0, "name"))}`;
    const [rule] = monitoringYaml("alerts");
    const exprs = (at(rule, "spec", "groups", 0, "rules") as { alert: string; expr: string }[]).map(
      (r) => r.expr,
    );
    assert.equal(exprs.length, 4);
    for (const expr of exprs) {
      for (const [name] of expr.matchAll(/\b(cpa|kube)_[a-z_]+\b/g)) {
        assert.ok(metrics.has(name) || name === ksmMetric, `${name} in ${expr}`);
      }
    }
  });
});

// ---------------------------------------------------------------------------
// docs/migrating.md's Dockerfile for Python packages. Building it needs Debian's
// mirror whenever the cpa-python image changes (every source change), which the
// tests cannot reach, so its lines are checked against what they work around:
// built by hand, the image runs as 65532 with pip, and without
// --break-system-packages pip refuses even a requirement already satisfied.
test("docs/migrating.md installs Python packages as root, with pip allowed into Debian's Python, then drops root", () => {
  const page = readFileSync(join(repoRoot, "docs", "migrating.md"), "utf8");
  const block = /```dockerfile\n([\s\S]*?)```/.exec(page.slice(page.indexOf("To install Python packages")));
  assert.ok(block?.[1], 'no Dockerfile after "To install Python packages" in docs/migrating.md');
  const lines = block[1]
    .replace(/\\\n\s*/g, " ")
    .split("\n")
    .filter((l) => l.trim() !== "");
  const index = (pattern: RegExp): number => lines.findIndex((l) => pattern.test(l));
  const lastIndex = (pattern: RegExp): number => lines.findLastIndex((l) => pattern.test(l));
  assert.equal(lines[0], "FROM cpa-python:0.1.0");
  const root = index(/^USER root$/);
  const apt = index(/^RUN apt-get update .*apt-get install -y --no-install-recommends python3-pip/);
  const pip = index(/^RUN pip install --break-system-packages .*-r \/requirements.txt$/);
  const back = lastIndex(/^USER 65532:65532$/);
  assert.ok(root > 0 && root < apt && apt < pip && pip < back, lines.join("\n"));
  assert.ok(lastIndex(/^RUN /) < back, "a RUN after switching back to 65532 would run without root");

  // What it works around is still so: the image runs as 65532 and its python target has no pip.
  const dockerfile = readFileSync(join(repoRoot, "Dockerfile"), "utf8");
  const python = dockerfile.slice(dockerfile.indexOf("AS python"), dockerfile.indexOf("AS runtime"));
  assert.match(python, /install -y --no-install-recommends python3 python-is-python3\b/);
  assert.doesNotMatch(python, /python3-pip|python3-venv/);
  assert.match(python, /USER 65532:65532/);
});

// ---------------------------------------------------------------------------
// The flag tables of docs/operator.md ("Running it") and
// docs/writing-an-autoscaler.md (`cpa run`) against the commands' --help.

/** `--flag` → the text of its "(default: ...)" in a command's usage. */
function usageFlags(usage: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of usage.split("\n")) {
    const m = /^ {2}(?:-\w, )?(--[\w-]+)\b.*?(?:\(default: (.*)\))?$/.exec(line);
    if (m?.[1]) out.set(m[1], m[2] ?? "");
  }
  return out;
}

/** `--flag` → the table row that documents it, from the table whose header starts with `first`. */
function tableFlags(page: string, first: string): Map<string, string> {
  const text = readFileSync(join(repoRoot, "docs", page), "utf8");
  const start = text.indexOf(`| ${first}`);
  assert.ok(start >= 0, `no table starting "| ${first}" in docs/${page}`);
  const rows = text.slice(start, text.indexOf("\n\n", start)).split("\n").slice(2);
  const out = new Map<string, string>();
  for (const row of rows) {
    const [cell = ""] = row.split("|").slice(1);
    for (const [, flag] of cell.matchAll(/`(--[\w-]+)/g)) if (flag) out.set(flag, row);
  }
  return out;
}

test("docs/operator.md documents every flag of cpa operator, with the defaults --help gives", () => {
  const operator = commands.find((c) => c.name === "operator");
  assert.ok(operator);
  const usage = usageFlags(operator.usage);
  const documented = tableFlags("operator.md", "flag");
  assert.deepEqual([...documented.keys()].sort(), [...usage.keys()].sort());
  for (const [flag, defaults] of usage) {
    // The concrete values of a default: env vars, durations, counts, addresses, names.
    for (const [value] of defaults.matchAll(/\$[A-Z_]+|:\d+|\b\d+[a-z]*\b|\bcpa-operator\b|\binfo\b/g)) {
      assert.ok(documented.get(flag)?.includes(value), `docs/operator.md: ${flag} defaults to ${value}`);
    }
  }
});

test("docs/writing-an-autoscaler.md documents every flag of cpa run", () => {
  const run = commands.find((c) => c.name === "run");
  assert.ok(run);
  const documented = tableFlags("writing-an-autoscaler.md", "flag");
  assert.deepEqual([...documented.keys()].sort(), [...usageFlags(run.usage).keys()].sort());
});
