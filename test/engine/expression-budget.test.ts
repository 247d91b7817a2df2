// A step whose expression runs away, in the real engine: the try fails (ExpressionError, or Timeout when the
// step's own timeout is the shorter bound) instead of reporting a success, its duration includes the
// evaluation, and other runs go on. The expressions come from the hostile corpus.
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Engine } from "../../src/engine/engine.js";
import type { StepEvent } from "../../src/engine/runner.js";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { hostileExpressions } from "./definition/hostile-cases.js";
import { hostileEvent } from "./definition/hostile-eval.js";
import { expr, probe, probeEngine, step, workflow } from "./fixtures/defs.js";

let db: TestDatabase;
const engines: Engine[] = [];

beforeAll(async () => {
  db = await createTestDatabase("expression_budget");
});
afterEach(async () => {
  for (const e of engines.splice(0)) await e.stop({ graceMs: 0 });
});
afterAll(async () => {
  await db.drop();
});

const bomb = hostileExpressions.nestedOverData!;

describe("a runaway expression in a step", () => {
  it("fails the try instead of a false success, and its duration counts the evaluation", async () => {
    const p = probe();
    const wf = workflow("bomb", [
      step("probe", { key: "ok" }, { id: "ok" }),
      step("probe", { key: "b", out: { n: `\${{ size(${bomb}) }}` } }, { id: "b", timeoutMs: 5000 }),
    ]);
    const fine = workflow("fine", [step("probe", { key: "f" }, { id: "f" })]);
    const e = probeEngine(db.pool, engines, [wf, fine], p);
    const steps: StepEvent[] = [];
    e.on("step", (s) => steps.push(s));
    await e.start();
    const { runId } = await e.trigger("bomb", { data: hostileEvent.data });
    const other = await e.trigger("fine");
    const run = await e.waitForRun(runId);
    expect(run.status).toBe("failed");
    expect(p.tries("b")).toBe(0);
    const failed = run.tries.find((t) => t.stepKey === "b")!;
    expect(failed.status).toBe("failed");
    expect(failed.error?.name).toMatch(/^(ExpressionError|Timeout)$/);
    expect(failed.error?.message).toMatch(
      /^workflows\/test\.yaml:1:\d+: \$\{\{ size\(event\.data\.list\.map/,
    );
    const ev = steps.find((s) => s.stepKey === "b" && s.type === "failed");
    expect(ev?.durationMs).toBeGreaterThan(0);
    expect((await e.waitForRun(other.runId)).status).toBe("succeeded");
  });

  it("is bounded by a step timeout shorter than the evaluation budget", async () => {
    const p = probe();
    const wf = workflow("short", [
      step("probe", { key: "s" }, { id: "s", timeoutMs: 5, if: expr(`size(${bomb}) > 0`) }),
    ]);
    const e = probeEngine(db.pool, engines, [wf], p);
    await e.start();
    const { runId } = await e.trigger("short", { data: hostileEvent.data });
    const run = await e.waitForRun(runId);
    expect(run.status).toBe("failed");
    // The budget is the step's 5 ms: its clock, or the operations that fit in it (a fast machine).
    expect(run.tries[0]?.error?.name).toMatch(/^(Timeout|ExpressionError)$/);
    expect(run.tries[0]?.error?.message).toMatch(/evaluation took more than 5 ms|after 50000 operations/);
  });

  it("counts a try whose input could not be evaluated, so a retryable failure there ends", async () => {
    const p = probe();
    const retry = { attempts: 3, backoff: "fixed" as const, delayMs: 10, maxDelayMs: 10, jitter: false };
    const wf = workflow("again", [
      step(
        "probe",
        { key: "a", out: "${{ event.nope.x }}" },
        { id: "a", retry: { ...retry, on: ["ExpressionError"] } },
      ),
    ]);
    const e = probeEngine(db.pool, engines, [wf], p);
    await e.start();
    const { runId } = await e.trigger("again");
    const run = await e.waitForRun(runId);
    expect(run.status).toBe("failed");
    // A retried try is stored as failed; three tries in all, as retry.attempts says.
    expect(run.tries.map((t) => [t.attempt, t.status])).toEqual([
      [1, "failed"],
      [2, "failed"],
      [3, "failed"],
    ]);
    expect(p.tries("a")).toBe(0);
  });
});
