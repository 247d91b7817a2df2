// The loader: defaults, keys, anchors and merges, positions, expressions in steps, and directory loading.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { resolveTemplate } from "../../../src/engine/definition/expressions.js";
import { loadWorkflowDir, loadWorkflowSource } from "../../../src/engine/definition/load.js";
import type { ExprContext, WorkflowDefinition } from "../../../src/engine/definition/types.js";
import { formatProblem } from "../../../src/errors.js";

function load(text: string, file = "workflows/review.yaml", envAllow?: string[]): WorkflowDefinition {
  const r = loadWorkflowSource(file, text, envAllow ? { envAllow } : {});
  expect(r.problems.map(formatProblem)).toEqual([]);
  return r.workflow!;
}

const ctx: ExprContext = {
  event: {
    id: "e",
    type: "record",
    at: "2026-01-01T00:00:00Z",
    record: { _id: "task/1", n: 4, status: "open" },
  },
  steps: { first: { output: { count: 2 }, status: "succeeded" } },
  run: { id: "r1", workflow: "review", attempt: 1, started_at: "2026-01-01T00:00:00Z" },
  env: { REGION: "hk" },
  error: { name: "Timeout", message: "too slow", step: "first" },
  now: new Date("2026-01-01T00:00:00Z"),
  uuidSeed: "r1/first",
};

describe("loadWorkflowSource", () => {
  it("applies the contract's defaults", () => {
    const w = load("on:\n  record:\n    type: task\nsteps:\n  - publish:\n      channel: out\n");
    expect(w.name).toBe("review");
    expect(w.enabled).toBe(true);
    expect(w.triggers).toEqual([
      { kind: "record", type: "task", database: "_public", events: ["create", "update"] },
    ]);
    expect(w.steps[0]).toMatchObject({
      key: "steps[0]",
      name: "publish",
      kind: "publish",
      timeoutMs: 30_000,
      continueOnError: false,
      retry: { attempts: 3, backoff: "exponential", delayMs: 1000, maxDelayMs: 30_000, jitter: true },
      line: 5,
      column: 5,
    });
    expect(w.onFailure).toEqual([]);
    expect(w.concurrency).toBeUndefined();
    expect(w.version).toMatch(/^[0-9a-f]{16}$/);
  });

  it("applies defaults.retry and defaults.timeout to steps that do not set their own", () => {
    const w = load(`on: { pubsub: { channel: a } }
defaults:
  retry: { attempts: 5, backoff: fixed, delay: 250ms }
  timeout: 1m
steps:
  - id: first
    publish: { channel: out }
  - publish: { channel: out }
    retry: { attempts: 2 }
    timeout: 1500
`);
    expect(w.steps[0]!.retry).toEqual({
      attempts: 5,
      backoff: "fixed",
      delayMs: 250,
      maxDelayMs: 30_000,
      jitter: true,
    });
    expect(w.steps[0]!.timeoutMs).toBe(60_000);
    expect(w.steps[0]!.key).toBe("first");
    expect(w.steps[1]!.retry).toMatchObject({ attempts: 2, backoff: "fixed", delayMs: 250 });
    expect(w.steps[1]!.timeoutMs).toBe(1500);
  });

  it("reads cron, pubsub and trigger lists, concurrency forms and retry.on", () => {
    const w = load(`name: nightly
enabled: false
on:
  - cron: { schedule: "0 */5 * * * *", timezone: Asia/Hong_Kong, catch_up: last, overlap: queue }
  - cron: { schedule: "@hourly" }
  - pubsub: { channel: orders, when: "\${{ event.data.total > 100.0 }}" }
concurrency: { limit: 2, key: "\${{ event.data.id }}" }
steps:
  - sql: { statement: "SELECT 1" }
    retry: { on: [SqlError, Timeout] }
`);
    expect(w.name).toBe("nightly");
    expect(w.enabled).toBe(false);
    expect(w.triggers[0]).toEqual({
      kind: "cron",
      schedule: "0 */5 * * * *",
      timezone: "Asia/Hong_Kong",
      catchUp: "last",
      overlap: "queue",
    });
    expect(w.triggers[1]).toMatchObject({ kind: "cron", timezone: "UTC", catchUp: "none", overlap: "skip" });
    const pubsub = w.triggers[2] as { when: { evaluate(c: ExprContext): unknown } };
    expect(pubsub.when.evaluate({ ...ctx, event: { ...ctx.event, data: { total: 150 } } })).toBe(true);
    expect(w.concurrency!.limit).toBe(2);
    expect(w.steps[0]!.retry.on).toEqual(["SqlError", "Timeout"]);
    expect(
      load("on: { pubsub: { channel: a } }\nconcurrency: 3\nsteps: [{ publish: { channel: b } }]\n")
        .concurrency,
    ).toEqual({
      limit: 3,
    });
  });

  it("supports anchors in top-level x- keys, aliases and << merge keys", () => {
    const w = load(`on: { pubsub: { channel: a } }
x-common: &common
  retry: { attempts: 7 }
  timeout: 5s
steps:
  - <<: *common
    id: one
    publish: { channel: out }
  - <<: *common
    timeout: 9s
    publish: { channel: out }
`).steps;
    expect(w[0]!.retry.attempts).toBe(7);
    expect(w[0]!.timeoutMs).toBe(5000);
    expect(w[1]!.timeoutMs).toBe(9000);
  });

  it("merges anchored step settings with << into steps", () => {
    const w = load(`on: { pubsub: { channel: a } }
steps:
  - id: one
    publish: &out { channel: out, data: { a: 1 } }
    retry: &slow { attempts: 7, backoff: linear }
  - retry:
      <<: *slow
      attempts: 2
    publish: *out
`).steps;
    expect(w[0]!.retry).toMatchObject({ attempts: 7, backoff: "linear" });
    expect(w[1]!.retry).toMatchObject({ attempts: 2, backoff: "linear" });
    expect(resolveTemplate(w[1]!.input, ctx)).toEqual({ channel: "out", data: { a: 1 } });
  });

  it("compiles step inputs and conditions, keeping whole-scalar types", () => {
    const w = load(
      `on: { record: { type: task } }
steps:
  - id: first
    query:
      type: task
      where: { status: open, owner: "\${{ event.record._id }}" }
      limit: \${{ int(event.record.n) }}
  - id: second
    if: steps.first.output.count > 1.0
    save:
      record:
        _id: note/\${{ uuid() }}
        text: "n is \${{ event.record.n }} in \${{ env.REGION }}"
on_failure:
  - if: \${{ steps.second.status == 'failed' }}
    publish: { channel: failures, data: { error: "\${{ error.name }}: \${{ error.message }}" } }
`,
      "review.yaml",
      ["REGION"],
    );
    const [first, second] = w.steps;
    expect(resolveTemplate(first!.input, ctx)).toEqual({
      type: "task",
      where: { status: "open", owner: "task/1" },
      limit: 4,
    });
    expect(second!.if!.evaluate(ctx)).toBe(true);
    expect(second!.if!.line).toBe(9);
    const saved = resolveTemplate(second!.input, ctx) as { record: { _id: string; text: string } };
    expect(saved.record.text).toBe("n is 4 in hk");
    expect(saved.record._id).toMatch(/^note\/[0-9a-f-]{36}$/);
    expect(resolveTemplate(w.onFailure[0]!.input, ctx)).toEqual({
      channel: "failures",
      data: { error: "Timeout: too slow" },
    });
    expect(w.onFailure[0]!.key).toBe("on_failure[0]");
  });

  it("names the file, line and column of a failing expression when a step's input is resolved", () => {
    const w = load(
      'on: { record: { type: task } }\nsteps:\n  - publish:\n      channel: out\n      data: { next: "${{ event.record.n + 1 }}" }\n',
      "workflows/count.yaml",
    );
    expect(() => resolveTemplate(w.steps[0]!.input, ctx)).toThrow(
      /^workflows\/count\.yaml:5:26: \$\{\{ event\.record\.n \+ 1 \}\}: no such overload: dyn<double> \+ int; JSON numbers are doubles in CEL: write 1\.0 instead of 1/,
    );
  });

  it("reports every problem of a file at once, in file order", () => {
    const r = loadWorkflowSource(
      "bad.yaml",
      `on: { record: { type: task, events: [create, remove] } }
steps:
  - id: a
    publish: { channel: out, data: "\${{ steps.b.output }}" }
    timeout: soon
  - id: b
    sql: { statement: "SELECT '\${{ event.id }}'" }
`,
    );
    expect(r.workflow).toBeUndefined();
    expect(r.problems.map(formatProblem)).toEqual([
      'bad.yaml:1:46: on.record.events[1]: expected one of create, update, delete, got "remove"',
      'bad.yaml:5:14: steps[0].timeout: expected a duration (250ms, 10s, 5m, 1h, 2d, or a number of milliseconds), got "soon"',
      "bad.yaml:7:23: steps[1].sql.statement: an expression inside sql.statement is not allowed: pass values as params and use $1, $2 ...",
    ]);
  });

  it("changes the version when the text changes", () => {
    const a = load("on: { pubsub: { channel: a } }\nsteps: [{ publish: { channel: b } }]\n");
    const b = load("on: { pubsub: { channel: a } }\nsteps: [{ publish: { channel: c } }]\n");
    expect(a.version).not.toBe(b.version);
    expect(a.source).toContain("channel: b");
  });
});

describe("loadWorkflowDir", () => {
  let dir: string | undefined;
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("loads *.yaml and *.yml, reports broken files and duplicate names naming both files", async () => {
    dir = await mkdtemp(join(tmpdir(), "skyflow-defs-"));
    const ok = "on: { pubsub: { channel: a } }\nsteps: [{ publish: { channel: b } }]\n";
    await writeFile(join(dir, "a.yaml"), `name: same\n${ok}`);
    await writeFile(join(dir, "b.yml"), `name: same\n${ok}`);
    await writeFile(join(dir, "c.yaml"), ok);
    await writeFile(join(dir, "d.yaml"), "on: { pubsub: { channel: a } }\n");
    await writeFile(join(dir, "notes.txt"), "not a workflow");
    const r = await loadWorkflowDir(dir);
    expect(r.files.map((f) => f.slice(dir!.length + 1))).toEqual(["a.yaml", "b.yml", "c.yaml", "d.yaml"]);
    expect(r.workflows.map((w) => w.name)).toEqual(["c"]);
    expect(r.problems.map((p) => formatProblem({ ...p, file: p.file.slice(dir!.length + 1) }))).toEqual([
      'd.yaml:1:1: missing required key "steps"',
      `b.yml:1:1: name: duplicate workflow name "same": also used by ${join(dir, "a.yaml")}`,
    ]);
  });
});
