import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, describe, test } from "node:test";
import { buildImage, DockerfileError, dockerignore, parseDockerfile, which } from "./image.ts";

describe("parseDockerfile", () => {
  test("reads stages, substitutes global ARGs in FROM, and joins continued lines", () => {
    const file = parseDockerfile(
      [
        "# syntax=docker/dockerfile:1",
        "ARG BASE=node:26-slim",
        "FROM ${BASE} AS Build",
        "RUN npm ci \\",
        "  # a comment inside a continuation is dropped",
        "  --omit=dev",
        "FROM build",
        'LABEL a="one two" b=three',
        'CMD ["x"]',
      ].join("\n"),
    );
    assert.deepEqual(file.globalArgs, { BASE: "node:26-slim" });
    assert.deepEqual(
      file.stages.map((s) => [s.name, s.from, s.line]),
      [
        ["build", "node:26-slim", 3],
        [undefined, "build", 7],
      ],
    );
    assert.deepEqual(file.stages[0]?.instructions[0], {
      keyword: "RUN",
      args: "npm ci  --omit=dev",
      line: 4,
    });
  });

  const refused: [string, string, RegExp][] = [
    ["an instruction outside the subset", "FROM a\nEXPOSE 8080", /line 2: EXPOSE is outside the subset/],
    ["ADD", "FROM a\nADD x /", /ADD is outside the subset/],
    ["COPY flags other than --from", "FROM a\nCOPY --chown=1:1 x /", /--chown/],
    ["RUN flags", "FROM a\nRUN --mount=type=cache,target=/x npm ci", /RUN flags/],
    ["FROM --platform", "FROM --platform=linux/amd64 a", /FROM flags/],
    ["variables outside FROM and RUN", "FROM a\nWORKDIR $HOME", /variables in WORKDIR/],
    ["a FROM variable without an ARG", "FROM ${NOPE}", /NOPE/],
    ["a shell-form CMD", "FROM a\nCMD cpa autoscaler", /exec form/],
    ["an exec-form RUN", 'FROM a\nRUN ["npm", "ci"]', /shell form/],
    ["a heredoc", "FROM a\nRUN <<EOF\nnpm ci\nEOF", /heredoc|outside the subset/],
    ["two stages with one name", "FROM a AS x\nFROM b AS x", /defined twice/],
    ["an instruction before FROM", "WORKDIR /x\nFROM a", /before the first FROM/],
    ["a file without FROM", "ARG X=1", /no FROM/],
  ];
  for (const [what, text, message] of refused) {
    test(`refuses ${what}`, () => {
      assert.throws(
        () => parseDockerfile(text),
        (err: unknown) => {
          assert.ok(err instanceof DockerfileError);
          assert.match(err.message, message);
          return true;
        },
      );
    });
  }
});

describe("dockerignore", () => {
  const repoRules = readFileSync(join(import.meta.dirname, "..", ".dockerignore"), "utf8");
  const cases: [string, boolean][] = [
    ["package.json", false],
    ["src/cmd/main.ts", false],
    ["src/cmd/main.test.ts", true],
    ["bin/cpa", false],
    ["node_modules/yaml/package.json", true],
    [".cache/bin/kube-plane", true],
    ["test/integration/image.test.ts", true],
    ["README.md", true],
  ];
  const { excludes } = dockerignore(repoRules);
  for (const [path, excluded] of cases) {
    test(`the repository's .dockerignore ${excluded ? "excludes" : "keeps"} ${path}`, () => {
      assert.equal(excludes(path), excluded);
    });
  }

  test("walks an excluded directory only when an exception could match inside it", () => {
    const rules = dockerignore("docs\n!docs/keep.md\n");
    assert.equal(rules.excludes("docs/other.md"), true);
    assert.equal(rules.excludes("docs/keep.md"), false);
    assert.equal(rules.mayInclude("docs"), true);
    assert.equal(rules.mayInclude("src"), false);
  });
});

describe("buildImage", () => {
  const context = mkdtempSync(join(tmpdir(), "cpa-image-test-"));
  const built: string[] = [];
  after(() => {
    for (const dir of [context, ...built]) rmSync(dir, { recursive: true, force: true });
  });
  const write = (files: Record<string, string>): void => {
    for (const [path, content] of Object.entries(files)) {
      mkdirSync(dirname(join(context, path)), { recursive: true });
      writeFileSync(join(context, path), content, { mode: path.startsWith("bin/") ? 0o755 : 0o644 });
    }
  };
  const build = async (dockerfile: string, target?: string) => {
    writeFileSync(join(context, "Dockerfile"), dockerfile);
    const result = await buildImage({ context, ...(target ? { target } : {}) });
    built.push(result.dir);
    return result;
  };

  write({
    ".dockerignore": "*.md\n**/*.test.ts\n",
    "a.txt": "a",
    "README.md": "readme",
    "bin/tool": "#!/bin/sh\necho tool\n",
    "lib/x.ts": "x",
    "lib/x.test.ts": "test",
  });

  test("lays the target's files out at their image paths, honouring .dockerignore, and reports skipped RUNs", async () => {
    const image = await build(
      [
        "FROM debian AS one",
        "WORKDIR /w",
        "COPY a.txt lib/ ./",
        "COPY bin/ /usr/local/bin/",
        "RUN apt-get install -y tini",
        'CMD ["inherited"]',
        "FROM one AS two",
        "COPY --from=one /w /copied",
        "ENV PATH=/usr/local/bin:/usr/bin",
        "USER 1000",
        'ENTRYPOINT ["tool"]',
        "FROM debian AS last",
        'ENTRYPOINT ["other"]',
      ].join("\n"),
      "two",
    );
    const has = (path: string): boolean => existsSync(join(image.rootfs, path));
    assert.deepEqual(
      ["/w/a.txt", "/w/x.ts", "/w/x.test.ts", "/copied/a.txt", "/copied/x.ts", "/README.md"].map(has),
      [true, true, false, true, true, false],
    );
    assert.equal(image.baseImage, "debian");
    assert.equal(image.workdir, "/w");
    assert.equal(image.user, "1000");
    // A new ENTRYPOINT drops the CMD inherited from the stage below, as in Docker.
    assert.deepEqual(image.argv, ["tool"]);
    assert.equal(which(image, "tool"), join(image.rootfs, "usr/local/bin/tool"));
    assert.equal(which(image, "tini"), undefined);
    assert.deepEqual(
      image.skipped.map((s) => [s.stage, s.line, s.instruction]),
      [["one", 5, "RUN apt-get install -y tini"]],
    );
  });

  test("builds the last stage when no target is given", async () => {
    const image = await build('FROM debian AS first\nCMD ["a"]\nFROM debian AS second\nENTRYPOINT ["b"]');
    assert.equal(image.target, "second");
    assert.deepEqual(image.argv, ["b"]);
  });

  const failures: [string, string, RegExp][] = [
    ["a source that .dockerignore excludes", "FROM a\nCOPY README.md /\nENTRYPOINT []", /excludes it/],
    ["a missing source", "FROM a\nCOPY nope /\nENTRYPOINT []", /nope: not found/],
    ["a source outside the context", "FROM a\nCOPY ../x /\nENTRYPOINT []", /outside the build context/],
    [
      "an npm RUN with shell operators",
      "FROM a\nRUN npm ci && rm -rf /\nENTRYPOINT []",
      /single npm command/,
    ],
    ["COPY --from an image", "FROM a\nCOPY --from=alpine /x /\nENTRYPOINT []", /earlier stages/],
    ["an ENTRYPOINT left to the base image", 'FROM a\nCMD ["x"]', /ENTRYPOINT/],
  ];
  for (const [what, dockerfile, message] of failures) {
    test(`fails on ${what}`, async () => {
      await assert.rejects(build(dockerfile), message);
    });
  }
});
