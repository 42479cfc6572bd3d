import assert from "node:assert/strict";
import { test } from "node:test";
import { CONFIG_DEFAULTS, configSchema, methodSchema } from "../src/api/autoscaler-config.ts";
import { customResourceDefinition } from "../src/api/crd.ts";
import { SPEC_DEFAULTS, specSchema, statusSchema } from "../src/api/custom-pod-autoscaler.ts";
import { integer, object, string, union, type JsonSchema } from "../src/api/schema.ts";
import { configReference, crdReference, fields, inline, table } from "./docs.ts";

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
