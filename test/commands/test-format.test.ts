// The test file format of `skyflow test` (pure): what it reads, the position of every expectation, clear
// located errors for broken files; expectation matching; the JUnit and TAP reports.
import { describe, expect, it } from "vitest";
import { mismatch } from "../../src/commands/test-expect.js";
import { parseEventFile, parseTestFile, testDuration } from "../../src/commands/test-format.js";
import { junitReport, tapReport } from "../../src/commands/test-report.js";
import { isWorkflowFile } from "../../src/engine/definition/load.js";
import { listWorkflowFiles } from "../../src/engine/reload.js";

const parse = (text: string, base = "review-task.test.yaml") =>
  parseTestFile(`workflows/${base}`, text, base);
const messages = (text: string, base?: string) =>
  parse(text, base).problems.map((p) => `${p.line}:${p.column}: ${p.path ? `${p.path}: ` : ""}${p.message}`);

describe("parseTestFile", () => {
  it("reads seeds, an event, timeline actions and expectations, each with its position", () => {
    const r = parse(
      [
        "clock: 2026-03-02T00:30:00Z",
        "tests:",
        "  - name: reviewed",
        "    users: [alice, { id: bob, username: bob }]",
        "    records:",
        "      - { as: alice, record: { _id: task/t0, title: Old } }",
        "    event:",
        "      record: { op: create, as: alice, record: { _id: task/t1 } }",
        "    then:",
        "      - advance: 10m",
        "      - event: { pubsub: { channel: c, data: { x: 1 } } }",
        "    expect:",
        "      run: succeeded",
        "      steps:",
        "        review: succeeded",
        "        notify: { status: failed, attempts: 2 }",
        "      sql:",
        "        - { statement: SELECT 1 AS n, rows: [{ n: 1 }] }",
      ].join("\n"),
    );
    expect(r.problems).toEqual([]);
    const t = r.file!.tests[0]!;
    expect(r.file!.workflow).toBe("review-task");
    expect(t.clock).toBe(Date.parse("2026-03-02T00:30:00Z"));
    expect(t.users).toEqual([{ id: "alice" }, { id: "bob", username: "bob" }]);
    expect(t.records[0]).toEqual({
      as: "alice",
      database: "_public",
      record: { _id: "task/t0", title: "Old" },
    });
    expect(t.actions.map((a) => a.kind)).toEqual(["event", "advance", "event", "expect"]);
    expect(t.actions[1]).toMatchObject({ kind: "advance", ms: 600_000, pos: { line: 10, column: 18 } });
    const e = t.actions[3]!;
    if (e.kind !== "expect") throw new Error("not an expect");
    expect(e.expect.run).toMatchObject({ value: "succeeded", pos: { line: 13, column: 12 } });
    expect(e.expect.steps[0]).toMatchObject({
      key: "review",
      status: { value: "succeeded", pos: { line: 15, column: 17 } },
    });
    expect(e.expect.steps[1]?.attempts).toMatchObject({ value: 2, pos: { line: 16, column: 45 } });
    expect(e.expect.sql[0]).toMatchObject({ statement: "SELECT 1 AS n", params: [] });
    expect(r.file!.at("tests[0].expect.sql[0].rows[0].n")).toEqual({ line: 18, column: 51 });
  });

  it("locates every mistake and says what is expected", () => {
    const text = [
      "tests:",
      "  - name: one",
      "    expct: { run: succeeded }",
      "    event: { record: { op: upsert, record: { title: x } } }",
      "    then:",
      "      - advance: soon",
      "      - { advance: 1s, expect: {} }",
      "  - name: one",
      "    expect:",
      "      run: finished",
      "      steps: { a: done }",
      "      records: [{ type: task }, { type: task, count: 0, where: { p: { gtee: 1 } } }]",
      "      sql: [{ statement: SELECT 1 }]",
    ].join("\n");
    expect(messages(text)).toEqual([
      '3:5: tests[0].expct: unknown key "expct"; expected one of name, clock, users, records, event, then, expect',
      '4:28: tests[0].event.record.op: expected one of create, update, delete, got "upsert"',
      '4:44: tests[0].event.record.record: a record needs `_id: "<type>/<key>"`',
      '6:18: tests[0].then[0].advance: expected a duration such as 250ms, 10s, 5m, 1h, 2d or 1h30m, got "soon"',
      "7:9: tests[0].then[1]: an action is exactly one of advance: <duration>, event: {...}, expect: {...}",
      "2:5: tests[0]: a test needs `expect:` (or an `expect` among its `then:` actions)",
      '10:12: tests[1].expect.run: expected one of succeeded, failed, cancelled, running, sleeping, waiting, pending, none, got "finished"',
      '11:19: tests[1].expect.steps.a: expected one of succeeded, failed, skipped, running, waiting, none, got "done"',
      "12:17: tests[1].expect.records[0]: say what to expect: `count:` or `records:` (or both)",
      '12:77: tests[1].expect.records[1].where.p.gtee: unknown operator "gtee" (did you mean "gte"?)',
      "13:13: tests[1].expect.sql[0]: `rows:` is required: the rows the statement should return",
      '8:11: tests[1].name: another test is also named "one"',
    ]);
  });

  it("needs the workflow's name from `workflow:` or the file name", () => {
    expect(messages("tests: [{ name: a, expect: { runs: 0 } }]", "checks.yaml")).toEqual([
      "1:1: name the workflow under test with `workflow:` (or name the file <workflow>.test.yaml)",
    ]);
    const named = parse("workflow: other\ntests: [{ name: a, expect: { runs: 0 } }]", "checks.yaml");
    expect(named.file?.workflow).toBe("other");
  });

  it("reports YAML syntax errors and an empty test list", () => {
    expect(messages("tests: [")[0]).toMatch(/^1:\d+: /);
    expect(messages("tests: []")).toEqual(["1:8: tests: `tests:` must be a list of at least one test"]);
  });

  it("reads durations with days, and refuses fractions and negative numbers", () => {
    expect([testDuration("250ms"), testDuration("2d"), testDuration(1500)]).toEqual([250, 172_800_000, 1500]);
    expect([testDuration("9m59s"), testDuration("1h30m"), testDuration("1s500ms")]).toEqual([
      599_000, 5_400_000, 1500,
    ]);
    expect([testDuration("1.5s"), testDuration(-1), testDuration("1w")]).toEqual([
      undefined,
      undefined,
      undefined,
    ]);
  });
});

describe("parseEventFile", () => {
  it("reads an event from JSON as written inline, and locates its mistakes in that file", () => {
    expect(parseEventFile("e.json", '{ "pubsub": { "data": { "id": "task/t1" } } }')).toEqual({
      event: { kind: "pubsub", data: { id: "task/t1" } },
      problems: [],
    });
    const bad = parseEventFile(
      "e.json",
      '{\n  "record": { "op": "replace", "record": { "_id": "task/1" } }\n}',
    );
    expect(bad.problems.map((p) => `${p.file}:${p.line}:${p.column}: ${p.message}`)).toEqual([
      'e.json:2:21: expected one of create, update, delete, got "replace"',
    ]);
    expect(parseEventFile("e.json", '{ "file": "other.json" }').problems[0]?.message).toBe(
      "an event file cannot name another file",
    );
  });
});

describe("test files beside the workflows", () => {
  it("are not workflows: the loader and the reloader leave *.test.yaml and *.test.yml alone", async () => {
    expect(["a.yaml", "a.yml", "a.test.yaml", "a.test.yml", "latest.yaml"].map(isWorkflowFile)).toEqual([
      true,
      true,
      false,
      false,
      true,
    ]);
    const files = await listWorkflowFiles("workflows");
    expect(files).toContain("workflows/review-task.yaml");
    expect(files.filter((f) => f.includes(".test."))).toEqual([]);
  });
});

describe("mismatch", () => {
  it("checks only the keys written, lists at their length, and $match against strings", () => {
    const actual = { _id: "review/9f", note: "Review x", task: { $type: "ref", $id: "task/t1" }, extra: 1 };
    expect(mismatch({ note: "Review x", task: { $id: "task/t1" } }, actual)).toBeUndefined();
    expect(mismatch({ _id: { $match: "^review/" } }, actual)).toBeUndefined();
    expect(mismatch({ task: { $id: "task/t2" } }, actual)).toEqual({
      path: 'task["$id"]',
      message: 'expected "task/t2", got "task/t1"',
    });
    expect(mismatch([1, 2], [1])).toEqual({ path: "", message: "expected 2 items, got 1: [1]" });
    expect(mismatch({ missing: 1 }, {})).toEqual({
      path: "missing",
      message: 'expected 1, got nothing (no key "missing")',
    });
    expect(mismatch({ gone: null }, {})).toBeUndefined();
    expect(mismatch(2, "2")).toEqual({ path: "", message: 'expected 2, got "2"' });
  });
});

describe("CI reports", () => {
  const report = {
    ms: 1234,
    broken: [{ file: "w/b.test.yaml", line: 3, column: 5, path: "tests[0].x", message: 'unknown key "x"' }],
    outcomes: [
      { file: "w/a.test.yaml", name: "passes", line: 2, column: 5, ms: 10, failures: [] },
      {
        file: "w/a.test.yaml",
        name: "fails <here>",
        line: 9,
        column: 5,
        ms: 20,
        failures: [{ line: 12, column: 9, message: 'run: expected succeeded, got failed & "more"' }],
      },
    ],
  };

  it("JUnit: a suite per file, a failure with its position, the broken file as an error, escaped", () => {
    const x = junitReport(report);
    expect(x).toContain('<testsuites name="skyflow test" tests="2" failures="1" errors="1" time="1.234">');
    expect(x).toContain(
      '<testcase classname="w/a.test.yaml" name="fails &lt;here&gt;" file="w/a.test.yaml" line="9"',
    );
    expect(x).toContain(
      "w/a.test.yaml:12:9: run: expected succeeded, got failed &amp; &quot;more&quot;</failure>",
    );
    expect(x).toContain(
      '<error message="broken test file">w/b.test.yaml:3:5: tests[0].x: unknown key &quot;x&quot;</error>',
    );
  });

  it("TAP: a plan, ok / not ok per test with the failure located, the broken files last", () => {
    const t = tapReport(report).split("\n");
    expect(t.slice(0, 4)).toEqual([
      "TAP version 13",
      "1..3",
      "ok 1 - w/a.test.yaml > passes",
      "not ok 2 - w/a.test.yaml > fails <here>",
    ]);
    expect(t).toContain('    - "w/a.test.yaml:12:9: run: expected succeeded, got failed & \\"more\\""');
    expect(t).toContain("not ok 3 - broken test files");
  });
});
