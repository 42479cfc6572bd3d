// The kustomize bases (config/kustomize/*), rendered by `kubectl kustomize` as
// a user's overlay would use them: each base is its bundle, and an overlay's
// `images:` points the operator at the user's registry. Needs kubectl only.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { after, describe, test } from "node:test";
import { parseAllDocuments, stringify } from "yaml";
import { IMAGE } from "../../hack/bundles.ts";
import { kubectl } from "../support/kube.ts";

const repoRoot = join(import.meta.dirname, "..", "..");
const REGISTRY_IMAGE = "registry.example.com/platform/cpa";

interface K8sObject {
  kind: string;
  metadata: { name: string; namespace?: string };
  spec?: { template?: { spec?: { containers?: { image?: string }[] } } };
}

const objects = (text: string): K8sObject[] =>
  parseAllDocuments(text)
    .map((d) => d.toJS() as K8sObject | null)
    .filter((o): o is K8sObject => o !== null);
const byKey = (list: K8sObject[]): Map<string, K8sObject> =>
  new Map(list.map((o) => [`${o.kind}/${o.metadata.namespace ?? ""}/${o.metadata.name}`, o]));
const operatorImage = (list: K8sObject[]): string | undefined =>
  list.find((o) => o.kind === "Deployment")?.spec?.template?.spec?.containers?.[0]?.image;

const overlays: string[] = [];
after(() => {
  for (const dir of overlays) rmSync(dir, { recursive: true, force: true });
});

/** Renders an overlay of a base, written as a user would write it, in a folder of its own. */
async function render(base: string, overlay: Record<string, unknown>): Promise<K8sObject[]> {
  const dir = mkdtempSync(join(tmpdir(), "cpa-overlay-"));
  overlays.push(dir);
  const resources = [relative(dir, join(repoRoot, "config", "kustomize", base))];
  writeFileSync(join(dir, "kustomization.yaml"), stringify({ resources, ...overlay }));
  const res = await kubectl(["kustomize", dir]);
  assert.equal(res.code, 0, res.stderr);
  return objects(res.stdout);
}

for (const bundle of ["cluster", "namespaced"]) {
  describe(`the kustomize base config/kustomize/${bundle}`, () => {
    const flat = objects(readFileSync(join(repoRoot, "config", `${bundle}.yaml`), "utf8"));

    test(`renders exactly config/${bundle}.yaml`, async () => {
      assert.deepEqual(byKey(await render(bundle, {})), byKey(flat));
      assert.equal(operatorImage(flat), IMAGE);
    });

    test("an overlay's images: points the operator at your registry, and changes nothing else", async () => {
      const rendered = await render(bundle, {
        images: [{ name: "cpa", newName: REGISTRY_IMAGE, newTag: "0.1.0" }],
      });
      assert.equal(operatorImage(rendered), `${REGISTRY_IMAGE}:0.1.0`);
      const unchanged = rendered.filter((o) => o.kind !== "Deployment");
      assert.deepEqual(byKey(unchanged), byKey(flat.filter((o) => o.kind !== "Deployment")));
    });
  });
}

test("the namespaced base with an overlay's namespace: puts the operator and its RBAC there", async () => {
  const rendered = await render("namespaced", {
    namespace: "my-team",
    images: [{ name: "cpa", newName: REGISTRY_IMAGE }],
  });
  assert.equal(operatorImage(rendered), `${REGISTRY_IMAGE}:0.1.0`);
  for (const kind of ["ServiceAccount", "Role", "RoleBinding", "Deployment"])
    assert.equal(rendered.find((o) => o.kind === kind)?.metadata.namespace, "my-team", kind);
  const binding = rendered.find((o) => o.kind === "RoleBinding") as unknown as {
    subjects: { namespace?: string }[];
  };
  assert.equal(binding.subjects[0]?.namespace, "my-team");
});
