import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { criLine, LogStore, nanoTime, parseCriLog, selectLog, type LogLine } from "./logs.ts";
import { identityOf, logQuery } from "./kubelet-api.ts";

const at = (s: number, text: string, stream: "stdout" | "stderr" = "stdout"): LogLine => ({
  time: nanoTime(new Date(Date.UTC(2026, 11, 1, 12, 0, s))),
  stream,
  text,
});
const lines = [at(0, "one"), at(1, "two", "stderr"), at(2, "three")];

describe("the CRI log format", () => {
  test("a line round-trips; a partial (P) line joins the one after it", () => {
    assert.equal(criLine(at(0, "one")), "2026-12-01T12:00:00.000000000Z stdout F one\n");
    const content =
      lines.map(criLine).join("") +
      "2026-12-01T12:00:03.000000000Z stdout P fo\n2026-12-01T12:00:03.100000000Z stdout F ur\n";
    const parsed = parseCriLog(content);
    assert.deepEqual(parsed.slice(0, 3), lines);
    assert.equal(parsed[3]?.text, "four");
  });
});

describe("selectLog", () => {
  test("everything, both streams, in order", () => {
    assert.equal(selectLog(lines, {}), "one\ntwo\nthree\n");
  });
  test("tailLines, sinceMs, timestamps and limitBytes", () => {
    assert.equal(selectLog(lines, { tailLines: 2 }), "two\nthree\n");
    assert.equal(selectLog(lines, { tailLines: 0 }), "");
    assert.equal(selectLog(lines, { sinceMs: Date.UTC(2026, 11, 1, 12, 0, 1) }), "two\nthree\n");
    assert.equal(
      selectLog(lines, { tailLines: 1, timestamps: true }),
      "2026-12-01T12:00:02.000000000Z three\n",
    );
    assert.equal(selectLog(lines, { limitBytes: 5 }), "one\nt");
  });
});

describe("logQuery", () => {
  const now = Date.UTC(2026, 11, 1, 12, 0, 10);
  test("reads kubectl's options", () => {
    const q = logQuery(
      new URLSearchParams(
        "follow=true&tailLines=5&sinceSeconds=3&timestamps=true&previous=true&limitBytes=9",
      ),
      now,
    );
    assert.deepEqual(q, {
      tailLines: 5,
      sinceMs: now - 3000,
      limitBytes: 9,
      timestamps: true,
      follow: true,
      previous: true,
    });
  });
  test("sinceTime as RFC 3339; a bad number or time names the option", () => {
    const q = logQuery(new URLSearchParams("sinceTime=2026-12-01T12:00:05Z"), now);
    assert.equal(typeof q === "object" && q.sinceMs, Date.UTC(2026, 11, 1, 12, 0, 5));
    assert.equal(logQuery(new URLSearchParams("tailLines=x"), now), "tailLines: not an integer: x");
    assert.equal(
      logQuery(new URLSearchParams("sinceTime=soon"), now),
      "sinceTime: not an RFC 3339 time: soon",
    );
  });
});

describe("identityOf", () => {
  test("CN is the user and each O a group", () => {
    assert.deepEqual(identityOf({ CN: "kube-apiserver-kubelet-client" }), {
      user: "kube-apiserver-kubelet-client",
      groups: [],
    });
    assert.deepEqual(identityOf({ CN: "u", O: ["a", "b"] }), { user: "u", groups: ["a", "b"] });
  });
});

describe("LogStore", () => {
  test("one file per instance in the kubelet's layout, oldest first; one that never ran can be dropped", () => {
    const root = mkdtempSync(join(tmpdir(), "cpa-logs-"));
    try {
      const store = new LogStore(root);
      const first = store.start("ns", "p", "uid1", "c", 0);
      first.append("stdout", "a", new Date(Date.UTC(2026, 11, 1)));
      first.end();
      const second = store.start("ns", "p", "uid1", "c", 1);
      second.append("stderr", "b");
      assert.equal(first.file, join(root, "ns_p_uid1", "c", "0.log"));
      assert.equal(readFileSync(first.file, "utf8"), "2026-12-01T00:00:00.000000000Z stdout F a\n");
      assert.deepEqual(store.instances("uid1", "c"), [first, second]);
      assert.deepEqual(store.instances("uid1", "other"), []);
      store.drop(second);
      assert.deepEqual(store.instances("uid1", "c"), [first]);
      store.forget("uid1");
      assert.deepEqual(store.instances("uid1", "c"), []);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
