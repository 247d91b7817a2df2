// foreach and parallel on a real engine and Postgres: output shapes, item scope, concurrency, failure rules,
// inner steps saved like top-level ones (resumed, not run again), uuid() per inner step per item, and a
// manual retry that starts from the failed inner step.
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { formatRunTimeline } from "../../src/commands/runs-format.js";
import { poolDb } from "../../src/db/pool.js";
import { compileTemplate } from "../../src/engine/definition/expressions.js";
import type { StepDefinition, WorkflowDefinition } from "../../src/engine/definition/types.js";
import type { Engine } from "../../src/engine/engine.js";
import { stepKinds } from "../../src/engine/step-kinds.js";
import { getRun, retryRun } from "../../src/engine/store/inspect.js";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { probe, probeEngine, step, waitFor, workflow } from "./fixtures/defs.js";

let db: TestDatabase;
const engines: Engine[] = [];

beforeAll(async () => {
  db = await createTestDatabase("foreach");
});
afterEach(async () => {
  for (const e of engines.splice(0)) await e.stop({ graceMs: 0 });
});
afterAll(async () => {
  await db.drop();
});

const NAMES = ["item", "index", "task"];
const locate = (path: string) => ({ file: "workflows/t.yaml", line: 1, column: 1, path, names: NAMES });

/** An inner probe step whose expressions may read the item names. */
function inner(input: unknown, extra: Partial<StepDefinition> = {}): StepDefinition {
  return { ...step("probe", {}, extra), input: compileTemplate(input, locate) };
}

function foreach(
  list: unknown,
  steps: StepDefinition[],
  extra: Partial<StepDefinition> & { item?: string; concurrency?: number } = {},
): StepDefinition {
  const { item = "item", concurrency = 1, ...rest } = extra;
  return {
    ...step("foreach", {}, rest),
    input: compileTemplate(list, locate),
    foreach: { item, concurrency, steps },
  };
}

function parallel(branches: Record<string, StepDefinition[]>, extra: Partial<StepDefinition> = {}) {
  return {
    ...step("parallel", {}, extra),
    parallel: { branches: Object.entries(branches).map(([name, steps]) => ({ name, steps })) },
  };
}

const run = async (e: Engine, wf: WorkflowDefinition) => {
  const { runId } = await e.trigger(wf.name);
  return e.waitForRun(runId, 30_000);
};

describe("foreach", () => {
  it("runs the inner steps per item in list order, with the item, index and its own earlier steps", async () => {
    const p = probe();
    const wf = workflow("each", [
      step("probe", { key: "list", out: { records: [{ t: "a" }, { t: "b" }, { t: "c" }] } }, { id: "list" }),
      foreach(
        "${{ steps.list.output.records }}",
        [
          inner(
            { key: "tell-${{ index }}", out: { t: "${{ task.t }}", i: "${{ index }}", u: "${{ uuid() }}" } },
            {
              id: "tell",
            },
          ),
          inner({ key: "echo-${{ index }}", out: { saw: "${{ steps.tell.output.t }}" } }, { id: "echo" }),
        ],
        { id: "remind", item: "task" },
      ),
    ]);
    const e = probeEngine(db.pool, engines, [wf], p);
    await e.start();
    const r = await run(e, wf);
    expect(r.status).toBe("succeeded");
    expect(p.order).toEqual(["list", "tell-0", "echo-0", "tell-1", "echo-1", "tell-2", "echo-2"]);
    const out = r.tries.find((t) => t.stepKey === "remind")!.output as {
      items: { tell: { t: string; i: number; u: string }; echo: unknown }[];
    };
    expect(out.items.map((i) => [i.tell.t, i.tell.i, i.echo])).toEqual([
      ["a", 0, { saw: "a" }],
      ["b", 1, { saw: "b" }],
      ["c", 2, { saw: "c" }],
    ]);
    // uuid() is per inner step per item: three different values.
    expect(new Set(out.items.map((i) => i.tell.u)).size).toBe(3);
    // Inner tries are saved under their instance keys, like top-level ones.
    expect(r.tries.map((t) => t.stepKey)).toContain("remind[2].echo");
    // runs show: the items under the foreach, each with its inner steps.
    const text = formatRunTimeline((await getRun(db.pool, r.id))!);
    expect(text).toMatch(
      /\n {2}remind \(foreach\) try 1: succeeded[^\n]*\n(.*\n)* {4}item \[0\]\n {6}tell \(probe\) try 1: succeeded/,
    );
    expect(text).toContain("    item [2]\n      tell (probe)");
  });

  it("keeps at most `concurrency` items in flight and returns the items in list order", async () => {
    const p = probe();
    const wf = workflow("conc", [
      foreach(
        "${{ [1, 2, 3, 4, 5, 6] }}",
        [inner({ key: "c-${{ index }}", out: { n: "${{ item }}" } }, { id: "c" })],
        {
          id: "fan",
          concurrency: 3,
        },
      ),
    ]);
    const e = probeEngine(db.pool, engines, [wf], p);
    await e.start();
    const r = await run(e, wf);
    expect(r.status).toBe("succeeded");
    expect(p.maxRunning()).toBeLessThanOrEqual(3);
    const out = r.tries.find((t) => t.stepKey === "fan")!.output as { items: { c: { n: number } }[] };
    expect(out.items.map((i) => i.c.n)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it("fails with the failing item's error and index, starting no new item; continue_on_error keeps an item going", async () => {
    const p = probe();
    const wf = workflow("stops", [
      foreach(
        "${{ [0, 1, 2, 3] }}",
        [
          inner(
            { key: "soft-${{ index }}", fail: 9, retryable: false },
            { id: "soft", continueOnError: true },
          ),
          inner(
            { key: "hard-${{ index }}", fail: "${{ index == 1 ? 9 : 0 }}", retryable: false, error: "Nope" },
            {
              id: "hard",
            },
          ),
        ],
        { id: "loop" },
      ),
    ]);
    const e = probeEngine(db.pool, engines, [wf], p);
    await e.start();
    const r = await run(e, wf);
    expect(r.status).toBe("failed");
    expect(r.error).toMatchObject({ name: "Nope", step: "loop" });
    expect(r.error!.message).toMatch(/^item 1: probe hard-1 failed try 1/);
    expect(p.tries("hard-2")).toBe(0);
    expect(p.tries("soft-1")).toBe(1);
    const snap = r.snapshot as { steps: Record<string, { status: string; error?: { index?: number } }> };
    expect(snap.steps.loop).toMatchObject({ status: "failed", error: { index: 1 } });
  });

  it("fails the step naming the value's type, or the count and the limit", async () => {
    const p = probe();
    const notList = workflow("notlist", [foreach("${{ {'a': 1} }}", [inner({ key: "x" })], { id: "bad" })]);
    const tooMany = workflow("toomany", [
      foreach("${{ [0].map(x, x) }}", [inner({ key: "y" })], { id: "big" }),
    ]);
    // A literal list of 10,001 items, past the limit.
    tooMany.steps[0]!.input = compileTemplate(
      Array.from({ length: 10_001 }, (_, i) => i),
      locate,
    );
    const e = probeEngine(db.pool, engines, [notList, tooMany], p);
    await e.start();
    const a = await run(e, notList);
    expect(a.error).toMatchObject({ name: "ForeachError" });
    expect(a.error!.message).toContain("expected a list to run over, got a mapping");
    const b = await run(e, tooMany);
    expect(b.error!.message).toContain("the list has 10001 items, more than the limit of 10000");
    expect(p.tries("x") + p.tries("y")).toBe(0);
  });

  it("resumes on another engine at the unfinished inner step: finished items and steps do not run again", async () => {
    const p = probe();
    const wf = workflow("resume", [
      foreach(
        "${{ [0, 1, 2] }}",
        [
          inner({ key: "a-${{ index }}", out: { u: "${{ uuid() }}" } }, { id: "a" }),
          inner({ key: "b-${{ index }}", gate: "${{ index == 1 ? 'hold' : '' }}" }, { id: "b" }),
        ],
        { id: "each" },
      ),
    ]);
    const first = probeEngine(db.pool, engines, [wf], p, { leaseMs: 1000 });
    await first.start();
    const { runId } = await first.trigger("resume");
    // Item 1's step b is running (held at its gate); its step a has been saved.
    await waitFor(async () => {
      const { rows } = await db.pool.query(
        "SELECT count(*)::int AS n FROM skyflow.step_tries WHERE run_id = $1 AND step_key = 'each[1].a' AND status = 'succeeded'",
        [runId],
      );
      return p.tries("b-1") === 1 && rows[0].n === 1;
    });
    const uuidBefore = (
      await db.pool.query(
        "SELECT output FROM skyflow.step_tries WHERE run_id = $1 AND step_key = 'each[1].a'",
        [runId],
      )
    ).rows[0].output.u;
    await first.stop({ graceMs: 0 });
    engines.splice(engines.indexOf(first), 1);
    p.open("hold");
    const second = probeEngine(db.pool, engines, [wf], p, { leaseMs: 1000 });
    await second.start();
    const r = await second.waitForRun(runId, 30_000);
    expect(r.status).toBe("succeeded");
    expect([p.tries("a-0"), p.tries("b-0"), p.tries("a-1"), p.tries("b-1"), p.tries("a-2")]).toEqual([
      1, 1, 1, 2, 1,
    ]);
    const out = r.tries.filter((t) => t.stepKey === "each" && t.status === "succeeded").at(-1)!.output as {
      items: { a: { u: string } }[];
    };
    expect(out.items[1]!.a.u).toBe(uuidBefore);
  });

  it("retries a failed run from its failed inner step: finished items keep their outputs", async () => {
    const p = probe();
    const wf = workflow("again", [
      foreach(
        "${{ [0, 1, 2] }}",
        [inner({ key: "r-${{ index }}", fail: "${{ index == 1 ? 1 : 0 }}", retryable: false }, { id: "r" })],
        { id: "each", concurrency: 3 },
      ),
    ]);
    const e = probeEngine(db.pool, engines, [wf], p);
    await e.start();
    const failed = await run(e, wf);
    expect(failed.status).toBe("failed");
    expect(await retryRun(poolDb(db.pool), failed.id)).toBe(true);
    await waitFor(async () => {
      const { rows } = await db.pool.query("SELECT status FROM skyflow.runs WHERE id = $1", [failed.id]);
      return rows[0].status === "succeeded";
    });
    expect([p.tries("r-0"), p.tries("r-1"), p.tries("r-2")]).toEqual([1, 2, 1]);
  });
});

describe("foreach with calls and sleeps", () => {
  it("calls a child workflow per item, `concurrency` at once, and reads each child's output", async () => {
    const p = probe();
    const child = workflow(
      "double",
      [
        step(
          "probe",
          { key: "d-${{ string(event.input.n) }}", out: { n: "${{ event.input.n * 2.0 }}" } },
          { id: "d" },
        ),
      ],
      {
        triggers: [{ kind: "call" }],
        output: compileTemplate("${{ {'doubled': steps.d.output.n} }}", locate),
      },
    );
    const parent = workflow("caller", [
      foreach(
        "${{ [1, 2, 3] }}",
        [
          {
            ...step("call", {}, { id: "dbl" }),
            input: compileTemplate({ workflow: "double", input: { n: "${{ item }}" } }, locate),
          },
          { ...step("sleep", {}, { id: "nap" }), input: compileTemplate("10ms", locate) },
        ],
        { id: "each", concurrency: 2 },
      ),
    ]);
    const e = probeEngine(db.pool, engines, [parent, child], p, {
      stepKinds: { ...stepKinds, probe: p.kind },
    });
    await e.start();
    const r = await run(e, parent);
    expect(r.status).toBe("succeeded");
    const out = r.tries.find((t) => t.stepKey === "each")!.output as {
      items: { dbl: { doubled: number }; nap: { slept_ms: number } }[];
    };
    expect(out.items.map((i) => i.dbl.doubled)).toEqual([2, 4, 6]);
    expect(out.items.every((i) => i.nap.slept_ms === 10)).toBe(true);
    const children = await db.pool.query(
      "SELECT count(*)::int AS n FROM skyflow.runs WHERE workflow = 'double' AND parent_id = $1",
      [r.id],
    );
    expect(children.rows[0].n).toBe(3);
  });
});

describe("a sleep inside a foreach item", () => {
  it("parks the run; another engine resumes it once the whole sleep is over", async () => {
    const p = probe();
    const wf = workflow("itemnap", [
      foreach(
        "${{ [0] }}",
        [{ ...step("sleep", {}, { id: "nap" }), input: compileTemplate("12s", locate) }],
        {
          id: "each",
        },
      ),
    ]);
    const opts = { leaseMs: 1000, stepKinds: { ...stepKinds, probe: p.kind } };
    const first = probeEngine(db.pool, engines, [wf], p, opts);
    await first.start();
    const { runId } = await first.trigger("itemnap");
    // The item's sleep has been going on for 8s of its 12s when its engine stops.
    await waitFor(async () => {
      const { rows } = await db.pool.query(
        `SELECT 1 FROM skyflow.step_tries WHERE run_id = $1 AND step_key = 'each[0].nap'
           AND now() - started_at >= interval '8 seconds'`,
        [runId],
      );
      return rows.length > 0;
    });
    await first.stop({ graceMs: 0 });
    engines.splice(engines.indexOf(first), 1);
    const second = probeEngine(db.pool, engines, [wf], p, opts);
    await second.start();
    const r = await second.waitForRun(runId, 60_000);
    expect(r.status).toBe("succeeded");
    const { rows } = await db.pool.query(
      `SELECT attempt, extract(epoch FROM finished_at - started_at) * 1000 AS ms, output,
              extract(epoch FROM finished_at - first_value(started_at) OVER (ORDER BY attempt)) * 1000 AS total
         FROM skyflow.step_tries WHERE run_id = $1 AND step_key = 'each[0].nap' ORDER BY attempt`,
      [runId],
    );
    // The item's sleep parked the run (src/engine/park/inner.ts): no engine held it when the first stopped,
    // and the second ended the same try once the 12s were over, not sooner and not starting it over.
    expect(rows.map((t) => t.attempt)).toEqual([1]);
    expect(Number(rows[0].total)).toBeGreaterThanOrEqual(11_900);
    expect(Number(rows[0].ms)).toBeLessThan(20_000);
    expect(rows[0].output).toEqual({ slept_ms: 12_000 });
  });
});

describe("parallel", () => {
  it("runs the branches at once and returns {branch: {id: output}}", async () => {
    const p = probe();
    const wf = workflow("par", [
      parallel(
        {
          left: [inner({ key: "l1", gate: "both", out: { side: "l" } }, { id: "l1" })],
          right: [
            inner({ key: "r1", out: { side: "r" } }, { id: "r1" }),
            inner({ key: "r2", out: { saw: "${{ steps.r1.output.side }}" } }, { id: "r2" }),
          ],
        },
        { id: "fan" },
      ),
      step("probe", { key: "after", out: { l: "${{ steps.fan.output.left.l1.side }}" } }, { id: "after" }),
    ]);
    const e = probeEngine(db.pool, engines, [wf], p);
    await e.start();
    const { runId } = await e.trigger("par");
    // The right branch finishes while the left one is still held: they run at once.
    await waitFor(() => p.tries("r2") === 1);
    p.open("both");
    const r = await e.waitForRun(runId, 30_000);
    expect(r.status).toBe("succeeded");
    expect(r.tries.find((t) => t.stepKey === "fan")!.output).toEqual({
      left: { l1: { side: "l" } },
      right: { r1: { side: "r" }, r2: { saw: "r" } },
    });
    expect(r.tries.find((t) => t.stepKey === "after")!.output).toEqual({ l: "l" });
  });

  it("when a branch fails, the others start no new step and the parallel fails once they stop", async () => {
    const p = probe();
    const wf = workflow("parfail", [
      parallel(
        {
          bad: [inner({ key: "bad", fail: 9, retryable: false, error: "Broken" })],
          slow: [inner({ key: "s1", gate: "s" }), inner({ key: "s2" })],
        },
        { id: "fan" },
      ),
    ]);
    const e = probeEngine(db.pool, engines, [wf], p);
    await e.start();
    const { runId } = await e.trigger("parfail");
    await waitFor(() => p.tries("bad") === 1 && p.tries("s1") === 1);
    p.open("s");
    const r = await e.waitForRun(runId, 30_000);
    expect(r.status).toBe("failed");
    expect(r.error).toMatchObject({ name: "Broken", step: "fan" });
    expect(r.error!.message).toMatch(/^branch bad: /);
    expect(p.tries("s2")).toBe(0);
  });
});
