import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ManualClock } from "../../src/engine/clock.js";
import type { WorkflowDefinition } from "../../src/engine/definition/types.js";
import type { Engine, EngineOptions } from "../../src/engine/engine.js";
import type { RunEvent, StepEvent } from "../../src/engine/runner.js";
import { enqueueRuns } from "../../src/engine/store/enqueue.js";
import { recordVersion } from "../../src/engine/store/versions.js";
import type { StepKind } from "../../src/steps/types.js";
import {
  createTestDatabase,
  type TestDatabase,
  terminateBackends,
  withFailingInserts,
  withRowTrigger,
} from "../helpers/db.js";
import { expr, probe, probeEngine, step, waitFor, workflow } from "./fixtures/defs.js";

let db: TestDatabase;
const engines: Engine[] = [];

beforeAll(async () => {
  db = await createTestDatabase("engine");
});
afterEach(async () => {
  for (const e of engines.splice(0)) await e.stop({ graceMs: 0 });
});
afterAll(async () => {
  await db.drop();
});

/** Backends of this test's database waiting for a lock on `table`. */
async function lockWaiters(table: string): Promise<number> {
  const { rows } = await db.pool.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM pg_locks
     WHERE NOT granted AND relation = $1::regclass
       AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
    [table],
  );
  return rows[0]!.n;
}

const engineWith = (
  defs: WorkflowDefinition[],
  p: ReturnType<typeof probe>,
  extra: Partial<EngineOptions> = {},
) => probeEngine(db.pool, engines, defs, p, extra);

describe("engine", () => {
  it("runs the steps in order, saves each try and passes outputs to later steps", async () => {
    const p = probe();
    const wf = workflow("chain", [
      step("probe", { key: "a", out: { n: 41 } }, { id: "a" }),
      step(
        "probe",
        { key: "b", out: { seen: "${{ steps.a.output.n + 1.0 }}", ev: "${{ event.x }}" } },
        { id: "b" },
      ),
    ]);
    const e = engineWith([wf], p);
    const runs: RunEvent[] = [];
    const steps: StepEvent[] = [];
    e.on("run", (r) => runs.push(r));
    e.on("step", (s) => steps.push(s));
    await e.start();
    const { runId } = await e.trigger("chain", { x: "hello" });
    const run = await e.waitForRun(runId);
    expect(run.status).toBe("succeeded");
    expect(run.tries.map((t) => [t.stepKey, t.status, t.attempt])).toEqual([
      ["a", "succeeded", 1],
      ["b", "succeeded", 1],
    ]);
    expect(run.tries[1]!.output).toEqual({ seen: 42, ev: "hello" });
    expect(run.event.type).toBe("manual");
    expect(runs.map((r) => r.type)).toEqual(["started", "succeeded"]);
    expect(steps.map((s) => `${s.stepKey}:${s.type}`)).toEqual(["a:succeeded", "b:succeeded"]);
  });

  it("keeps secrets out of stored runs: outputs are redacted in the saved state, the tries and later steps", async () => {
    const p = probe();
    const secret = "s3cret-master-key";
    const wf = workflow("leaky", [
      step("probe", { key: "l1", out: { header: `Bearer ${secret}`, password: "pw", n: 1 } }, { id: "l1" }),
      step("probe", { key: "l2", out: { saw: "${{ steps.l1.output.header }}" } }, { id: "l2" }),
    ]);
    const e = engineWith([wf], p, { secrets: [secret] });
    await e.start();
    const { runId } = await e.trigger("leaky");
    const run = await e.waitForRun(runId);
    expect(run.status).toBe("succeeded");
    expect(run.tries[0]!.output).toEqual({ header: "Bearer [redacted]", password: "[redacted]", n: 1 });
    expect(run.tries[1]!.output).toEqual({ saw: "Bearer [redacted]" });
    const { rows } = await db.pool.query(
      "SELECT snapshot::text AS s FROM skyflow.runs WHERE id = $1 UNION ALL SELECT coalesce(output::text, '') FROM skyflow.step_tries WHERE run_id = $1",
      [runId],
    );
    for (const r of rows) {
      expect(r.s).not.toContain(secret);
      expect(r.s).not.toContain('"pw"');
    }
  });

  it("retries a retryable error with backoff until the try that succeeds", async () => {
    const p = probe();
    const retry = { attempts: 4, backoff: "exponential" as const, delayMs: 5, maxDelayMs: 20, jitter: false };
    const wf = workflow("flaky", [step("probe", { key: "f", fail: 2 }, { id: "f", retry })]);
    const e = engineWith([wf], p);
    const retried: StepEvent[] = [];
    e.on("step", (s) => s.type === "retried" && retried.push(s));
    await e.start();
    const run = await e.waitForRun((await e.trigger("flaky")).runId);
    expect(run.status).toBe("succeeded");
    expect(p.tries("f")).toBe(3);
    expect(run.tries.map((t) => t.status)).toEqual(["failed", "failed", "succeeded"]);
    expect(retried.map((r) => r.attempt)).toEqual([1, 2]);
  });

  it("fails at once on an error that no retry can fix, unless retry.on names it", async () => {
    const p = probe();
    const retry = { attempts: 3, backoff: "fixed" as const, delayMs: 1, maxDelayMs: 1, jitter: false };
    const wf = workflow("denied", [
      step("probe", { key: "d", fail: 5, error: "PermissionDenied", retryable: false }, { retry }),
    ]);
    const wf2 = workflow("named", [
      step(
        "probe",
        { key: "n", fail: 1, error: "ResourceNotFound", retryable: false },
        {
          retry: { ...retry, on: ["ResourceNotFound"] },
        },
      ),
    ]);
    const e = engineWith([wf, wf2], p);
    await e.start();
    const run = await e.waitForRun((await e.trigger("denied")).runId);
    expect(run.status).toBe("failed");
    expect(p.tries("d")).toBe(1);
    expect(run.error).toMatchObject({ name: "PermissionDenied" });
    const run2 = await e.waitForRun((await e.trigger("named")).runId);
    expect(run2.status).toBe("succeeded");
    expect(p.tries("n")).toBe(2);
  });

  it("abandons a try at its timeout (on the injected clock) and records error Timeout", async () => {
    const p = probe();
    const clock = new ManualClock();
    const wf = workflow("slow", [step("probe", { key: "t", gate: "never" }, { timeoutMs: 5000 })]);
    const e = engineWith([wf], p, { clock });
    await e.start();
    const { runId } = await e.trigger("slow");
    await waitFor(() => p.tries("t") === 1);
    clock.advance(4999);
    expect(p.aborted("t")).toBe(0);
    clock.advance(1);
    const run = await e.waitForRun(runId);
    expect(run.status).toBe("failed");
    expect(run.error).toMatchObject({ name: "Timeout" });
    expect(p.aborted("t")).toBe(1);
  });

  it("does not time out a try whose step has returned while its result is being saved", async () => {
    const p = probe();
    const clock = new ManualClock();
    const wf = workflow("slowsave", [
      step("probe", { key: "ss1" }, { id: "ss1", timeoutMs: 5000 }),
      step("probe", { key: "ss2" }, { timeoutMs: 5000 }),
    ]);
    const e = engineWith([wf], p, { clock });
    await e.start();
    // Every save writes step_tries: holding this lock holds the first step's result save.
    const lock = await db.pool.connect();
    let runId: string;
    try {
      await lock.query("BEGIN");
      await lock.query("LOCK TABLE skyflow.step_tries IN EXCLUSIVE MODE");
      runId = (await e.trigger("slowsave")).runId;
      await waitFor(() => p.tries("ss1") === 1, 5_000);
      await waitFor(
        async () => (await lockWaiters("skyflow.step_tries")) > 0,
        5_000,
        "a save waiting for the lock",
      );
      // Far past the step's timeout, on the engine's clock, while its save waits for the lock.
      clock.advance(60_000);
      await lock.query("COMMIT");
    } finally {
      lock.release();
    }
    const run = await e.waitForRun(runId);
    expect(run.status).toBe("succeeded");
    expect(run.tries.map((t) => [t.stepKey, t.attempt, t.status])).toEqual([
      ["ss1", 1, "succeeded"],
      [expect.any(String), 1, "succeeded"],
    ]);
    expect(p.aborted("ss1")).toBe(0);
  });

  it("never saves a try that returns after its timeout, even while its retry runs", async () => {
    const clock = new ManualClock();
    // Ignores its AbortSignal: each try returns only when the test releases it.
    const releases: (() => void)[] = [];
    const stubborn: StepKind = {
      kind: "stubborn",
      run: () => new Promise((resolve) => releases.push(() => resolve({ late: releases.length }))),
    };
    const wf = workflow("stubborn", [
      step(
        "stubborn",
        {},
        {
          id: "st1",
          timeoutMs: 1000,
          retry: {
            attempts: 2,
            backoff: "fixed",
            delayMs: 10,
            maxDelayMs: 10,
            jitter: false,
            on: ["Timeout"],
          },
        },
      ),
    ]);
    const e = engineWith([wf], probe(), { clock, stepKinds: { stubborn } });
    await e.start();
    const { runId } = await e.trigger("stubborn");
    await waitFor(() => releases.length === 1, 5_000);
    clock.advance(1000);
    // The retry wait is a delayed transition on the same clock.
    await waitFor(() => {
      clock.advance(10);
      return releases.length === 2;
    }, 5_000);
    // The first try returns now, while the second is in flight: it must not be saved as a success.
    releases[0]!();
    await new Promise((r) => setTimeout(r, 300));
    const mid = await db.pool.query(
      "SELECT attempt, status, error->>'name' AS error FROM skyflow.step_tries WHERE run_id = $1 ORDER BY attempt",
      [runId],
    );
    expect(mid.rows).toEqual([
      { attempt: 1, status: "failed", error: "Timeout" },
      { attempt: 2, status: "running", error: null },
    ]);
    releases[1]!();
    const run = await e.waitForRun(runId);
    expect(run.status).toBe("succeeded");
    expect(run.tries.map((t) => [t.attempt, t.status])).toEqual([
      [1, "failed"],
      [2, "succeeded"],
    ]);
  });

  it("finishes every run, each step once per run, after the database drops all its connections mid-flight", async () => {
    const p = probe();
    const wf = workflow("blip", [
      step("probe", { key: "b1" }),
      step("probe", { key: "b2" }),
      step("probe", { key: "b3" }),
    ]);
    const e = engineWith([wf], p, { leaseMs: 1000 });
    await e.start();
    const N = 400;
    await recordVersion(db.pool, wf);
    await enqueueRuns(
      db.pool,
      Array.from({ length: N }, (_, i) => ({
        workflow: "blip",
        version: wf.version,
        event: { id: `blip-${i}`, type: "manual" as const, at: new Date().toISOString() },
      })),
    );
    e.wake();
    await waitFor(() => p.tries("b1") >= 50, 10_000);
    // As a database restart would: every other connection to this database ends at once (the engine's
    // LISTEN, its idle pooled clients, and saves and claims in flight).
    expect(await terminateBackends(db.pool)).toBeGreaterThan(0);
    const counts = async () =>
      (
        await db.pool.query<{ status: string; n: number }>(
          "SELECT status, count(*)::int AS n FROM skyflow.runs WHERE workflow = 'blip' GROUP BY status",
        )
      ).rows;
    await waitFor(async () => (await counts()).some((r) => r.status === "succeeded" && r.n === N), 30_000);
    // Each run's steps succeeded exactly once (a try cut off by the drop may have run twice: at least once).
    const { rows } = await db.pool.query<{ step_key: string; n: number; runs: number }>(
      `SELECT t.step_key, count(*)::int AS n, count(DISTINCT t.run_id)::int AS runs
       FROM skyflow.step_tries t JOIN skyflow.runs r ON r.id = t.run_id
       WHERE r.workflow = 'blip' AND t.status = 'succeeded' GROUP BY t.step_key ORDER BY t.step_key`,
    );
    expect(rows.map((r) => [r.n, r.runs])).toEqual([
      [N, N],
      [N, N],
      [N, N],
    ]);
    for (const k of ["b1", "b2", "b3"]) expect(p.tries(k)).toBeGreaterThanOrEqual(N);
  });

  it("skips a step whose if is false, goes on after continue_on_error, and runs on_failure with the error", async () => {
    const p = probe();
    const wf = workflow(
      "branches",
      [
        step("probe", { key: "skip" }, { id: "skipme", if: expr("event.go == true") }),
        step(
          "probe",
          { key: "soft", fail: 9, retryable: false, error: "Soft" },
          { id: "soft", continueOnError: true },
        ),
        step("probe", { key: "hard", fail: 9, retryable: false, error: "Hard" }, { id: "hard" }),
        step("probe", { key: "never" }, { id: "never" }),
      ],
      {
        onFailure: [
          step(
            "probe",
            { key: "cleanup", out: { why: "${{ error.name }}", at: "${{ error.step }}" } },
            {
              id: "cleanup",
              key: "cleanup",
            },
          ),
        ],
      },
    );
    const e = engineWith([wf], p);
    await e.start();
    const run = await e.waitForRun((await e.trigger("branches", { go: false })).runId);
    expect(run.status).toBe("failed");
    expect(p.tries("skip")).toBe(0);
    expect(p.tries("never")).toBe(0);
    const snap = run.snapshot as { steps: Record<string, { status: string }> };
    expect(snap.steps.skipme?.status).toBe("skipped");
    expect(snap.steps.soft?.status).toBe("failed");
    expect(snap.steps.hard?.status).toBe("failed");
    expect(run.tries.find((t) => t.stepKey === "cleanup")?.output).toEqual({ why: "Hard", at: "hard" });
    expect(run.error).toMatchObject({ name: "Hard", step: "hard" });
  });

  it("ends a run of a workflow built with no steps (the API allows it; the loader does not) at once", async () => {
    const e = engineWith([workflow("empty", [])], probe());
    await e.start();
    const run = await e.waitForRun((await e.trigger("empty")).runId, 5_000);
    expect(run.status).toBe("succeeded");
    expect(run.tries).toEqual([]);
  });

  it("keeps runs of a workflow with concurrency 1 one at a time, in the order they were queued", async () => {
    const p = probe();
    const wf = workflow("serial", [step("probe", { key: "${{ event.n }}", gate: "${{ event.n }}" })], {
      concurrency: { limit: 1 },
    });
    // No poll in time: each run's end must claim the next one itself.
    const e = engineWith([wf], p, { maxRuns: 10, pollMs: 600_000 });
    await e.start();
    const ids: string[] = [];
    for (const n of ["r1", "r2", "r3"]) ids.push((await e.trigger("serial", { n })).runId);
    await waitFor(() => p.tries("r1") === 1);
    await new Promise((r) => setTimeout(r, 150));
    expect(e.inFlight()).toBe(1);
    for (const n of ["r1", "r2", "r3"]) p.open(n);
    for (const id of ids) expect((await e.waitForRun(id)).status).toBe("succeeded");
    expect(p.order).toEqual(["r1", "r2", "r3"]);
    expect(p.maxRunning()).toBe(1);
  });

  it("queues the runs of a cron workflow with overlap: queue one at a time, in order", async () => {
    const p = probe();
    const wf = workflow("queued-cron", [step("probe", { key: "${{ event.n }}", gate: "${{ event.n }}" })], {
      triggers: [{ kind: "cron", schedule: "* * * * *", timezone: "UTC", catchUp: "none", overlap: "queue" }],
    });
    const e = engineWith([wf], p, { maxRuns: 10 });
    await e.start();
    const ids: string[] = [];
    for (const n of ["q1", "q2"]) ids.push((await e.trigger("queued-cron", { n })).runId);
    await waitFor(() => p.tries("q1") === 1);
    await new Promise((r) => setTimeout(r, 150));
    expect(e.inFlight()).toBe(1);
    for (const n of ["q1", "q2"]) p.open(n);
    for (const id of ids) expect((await e.waitForRun(id)).status).toBe("succeeded");
    expect(p.order).toEqual(["q1", "q2"]);
    expect(p.maxRunning()).toBe(1);
  });

  it("limits runs per concurrency key, evaluating the key at claim time for runs queued without one", async () => {
    const p = probe();
    const wf = workflow("per-user", [step("probe", { key: "${{ event.n }}", gate: "${{ event.n }}" })], {
      concurrency: { limit: 1, key: expr("event.user") },
    });
    const e = engineWith([wf], p, { maxRuns: 10 });
    await recordVersion(db.pool, wf);
    const runs = [
      ["ann", "a1"],
      ["bob", "b1"],
      ["ann", "a2"],
      ["bob", "b2"],
    ].map(([user, n]) => ({
      workflow: wf.name,
      version: wf.version,
      event: { id: n!, type: "record" as const, at: "", user, n },
    }));
    const ids = (await enqueueRuns(db.pool, runs)).map((r) => r.id);
    await e.start();
    await waitFor(() => p.tries("a1") === 1 && p.tries("b1") === 1);
    await new Promise((r) => setTimeout(r, 150));
    expect(e.inFlight()).toBe(2);
    expect(p.tries("a2") + p.tries("b2")).toBe(0);
    for (const n of ["a1", "b1", "a2", "b2"]) p.open(n);
    for (const id of ids) expect((await e.waitForRun(id)).status).toBe("succeeded");
    expect(p.maxRunning()).toBe(2);
    const { rows } = await db.pool.query(
      "SELECT DISTINCT concurrency_key FROM skyflow.runs WHERE workflow = 'per-user'",
    );
    expect(rows.map((r) => r.concurrency_key).sort()).toEqual(["ann", "bob"]);
  });

  it("never holds more than maxRuns runs in flight", async () => {
    const p = probe();
    const wf = workflow("wide", [step("probe", { key: "${{ event.n }}", gate: "all" })]);
    const e = engineWith([wf], p, { maxRuns: 2 });
    await e.start();
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await e.trigger("wide", { n: `w${i}` })).runId);
    await waitFor(() => p.maxRunning() === 2);
    await new Promise((r) => setTimeout(r, 150));
    expect(e.inFlight()).toBe(2);
    p.open("all");
    for (const id of ids) expect((await e.waitForRun(id)).status).toBe("succeeded");
    expect(p.maxRunning()).toBe(2);
  });

  it("parks a run during a long retry wait (no live actor, lease released) and resumes it when due", async () => {
    const p = probe();
    const retry = { attempts: 2, backoff: "fixed" as const, delayMs: 400, maxDelayMs: 400, jitter: false };
    const wf = workflow("parked", [step("probe", { key: "pk", fail: 1 }, { id: "pk", retry })]);
    const e = engineWith([wf], p, { parkAfterMs: 100 });
    await e.start();
    const { runId } = await e.trigger("parked");
    await waitFor(async () => {
      const { rows } = await db.pool.query("SELECT status, lease_owner FROM skyflow.runs WHERE id = $1", [
        runId,
      ]);
      return rows[0].status === "waiting" && rows[0].lease_owner === null;
    });
    expect(e.inFlight()).toBe(0);
    const run = await e.waitForRun(runId);
    expect(run.status).toBe("succeeded");
    expect(p.tries("pk")).toBe(2);
  });

  it("gives a resumed run the outputs of the steps before, from their tries (the snapshot holds none)", async () => {
    const p = probe();
    const retry = { attempts: 2, backoff: "fixed" as const, delayMs: 300, maxDelayMs: 300, jitter: false };
    const wf = workflow("carry", [
      step("probe", { key: "c1", out: { n: 41 } }, { id: "c1" }),
      step(
        "probe",
        { key: "c2", fail: 1, out: { seen: "${{ steps.c1.output.n + 1.0 }}" } },
        { id: "c2", retry },
      ),
    ]);
    // The retry wait parks the run: its actor ends, and the run comes back through a claim of its row.
    const e = engineWith([wf], p, { parkAfterMs: 100 });
    await e.start();
    const { runId } = await e.trigger("carry");
    const run = await e.waitForRun(runId);
    expect(run.status).toBe("succeeded");
    expect(p.tries("c2")).toBe(2);
    expect(run.tries.at(-1)!.output).toEqual({ seen: 42 });
    const { rows } = await db.pool.query("SELECT snapshot::text AS s FROM skyflow.runs WHERE id = $1", [
      runId,
    ]);
    expect(rows[0].s).not.toContain("output");
  });

  it("starts a new run's first step without waiting for its begin save, unless the step records loop-guard intents", async () => {
    const p = probe();
    // A stand-in delete step: its input names records, so it has intents that must be stored before it runs.
    let deletes = 0;
    const del: StepKind = {
      kind: "delete",
      run: async () => {
        deletes++;
        return { deleted: ["note/n1"] };
      },
    };
    const early = workflow("early", [
      step("probe", { key: "e1" }, { id: "e1" }),
      step("probe", { key: "e2" }),
    ]);
    const guarded = workflow("guarded", [step("delete", { ids: ["note/n1"] }, { id: "d1" })]);
    const e = engineWith([early, guarded], p, { stepKinds: { probe: p.kind, delete: del } });
    await e.start();
    // Every save writes step_tries: holding this lock holds them all (claims only touch runs).
    const lock = await db.pool.connect();
    let a: string;
    let b: string;
    try {
      await lock.query("BEGIN");
      await lock.query("LOCK TABLE skyflow.step_tries IN EXCLUSIVE MODE");
      a = (await e.trigger("early")).runId;
      b = (await e.trigger("guarded")).runId;
      await waitFor(() => p.tries("e1") === 1, 5_000);
      await new Promise((r) => setTimeout(r, 300));
      // The first step ran; the second waits for the first's end to be saved, the delete for its intents.
      expect(p.tries("e2")).toBe(0);
      expect(deletes).toBe(0);
      await lock.query("COMMIT");
    } finally {
      lock.release();
    }
    const ra = await e.waitForRun(a);
    expect(ra.status).toBe("succeeded");
    expect(ra.tries.map((t) => [t.stepKey, t.status])).toEqual([
      ["e1", "succeeded"],
      [expect.any(String), "succeeded"],
    ]);
    expect((await e.waitForRun(b)).status).toBe("succeeded");
    expect(deletes).toBe(1);
  });

  it("writes a quick first try's row once, as it ends, with its input and the time it started", async () => {
    // A first step that ends before BEGIN_HOLD_MS: its begin save is held back, and never sent.
    const nap: StepKind = {
      kind: "nap",
      run: async () => {
        await new Promise((r) => setTimeout(r, 25));
        return { napped: true };
      },
    };
    const wf = workflow("quick", [step("nap", { ms: 25 }, { id: "n1" })]);
    const e = engineWith([wf], probe(), { stepKinds: { nap } });
    await e.start();
    const { runId } = await e.trigger("quick");
    expect((await e.waitForRun(runId)).status).toBe("succeeded");
    const { rows } = await db.pool.query(
      `SELECT status, input, output, extract(epoch FROM finished_at - started_at) * 1000 AS ms
       FROM skyflow.step_tries WHERE run_id = $1`,
      [runId],
    );
    expect(rows.map((r) => [r.status, r.input, r.output])).toEqual([
      ["succeeded", { ms: 25 }, { napped: true }],
    ]);
    // Its start, not the save's time: now() - startedAgoMs.
    expect(Number(rows[0].ms)).toBeGreaterThanOrEqual(20);
    expect(Number(rows[0].ms)).toBeLessThan(5_000);
  });

  it("stops an early first step whose begin save fails, and gives the run up; it begins again, as after a crash", async () => {
    const p = probe();
    // The step waits on a gate: it is still running when its begin save fails.
    const wf = workflow("outrun", [step("probe", { key: "o1", gate: "g" }, { id: "o1" })]);
    // The first save of a try fails once (as a database error would), after the step has started.
    await withFailingInserts(db.pool, "skyflow.step_tries", 1, async () => {
      const e = engineWith([wf], p, { leaseMs: 600 });
      await e.start();
      const { runId } = await e.trigger("outrun");
      // Its AbortSignal fired: the run may no longer be this engine's, and must not run in two places.
      await waitFor(() => p.aborted("o1") === 1, 5_000);
      p.open("g");
      const run = await e.waitForRun(runId, 20_000);
      expect(run.status).toBe("succeeded");
      // At least twice: the step began before its begin save failed, and again when the run began again
      // (a third time where a loaded machine let the 600-ms lease lapse meanwhile), never two at once.
      expect(p.tries("o1")).toBeGreaterThanOrEqual(2);
      expect(p.maxRunning()).toBe(1);
      expect(run.tries.map((t) => [t.stepKey, t.attempt, t.status])).toEqual([["o1", 1, "succeeded"]]);
    });
  });

  it("stores an output holding characters jsonb refuses (NUL, a lone surrogate) as U+FFFD, and later steps see the same", async () => {
    const p = probe();
    const wf = workflow("odd", [
      step("probe", { key: "n1", out: { body: "a\u0000b\ud800" } }, { id: "n1" }),
      step("probe", { key: "n2", out: { seen: "${{ steps.n1.output.body }}" } }, { id: "n2" }),
    ]);
    const e = engineWith([wf], p);
    await e.start();
    const { runId } = await e.trigger("odd");
    const run = await e.waitForRun(runId);
    expect(run.status).toBe("succeeded");
    expect(run.tries.map((t) => t.output)).toEqual([{ body: "a\uFFFDb\uFFFD" }, { seen: "a\uFFFDb\uFFFD" }]);
    expect(p.tries("n1")).toBe(1);
  });

  it("refuses a manual event whose id or at has the wrong type, naming the field", async () => {
    const wf = workflow("typed", [step("probe", { key: "ty" })]);
    const e = engineWith([wf], probe());
    await e.start();
    await expect(e.trigger("typed", { id: 7 as unknown as string })).rejects.toThrow(
      "event.id: expected a non-empty string, got 7",
    );
    await expect(e.trigger("typed", { at: "soon" })).rejects.toThrow("event.at: expected an ISO time");
    const { rows } = await db.pool.query(
      "SELECT count(*)::int AS n FROM skyflow.runs WHERE workflow = 'typed'",
    );
    expect(rows[0].n).toBe(0);
  });

  it("answers a manual event given again with the run it started, which runs once", async () => {
    const p = probe();
    const wf = workflow("again", [step("probe", { key: "ag" })]);
    const e = engineWith([wf], p);
    await e.start();
    const first = await e.trigger("again", { id: "ev-again" });
    const second = await e.trigger("again", { id: "ev-again" });
    expect(second.runId).toBe(first.runId);
    expect((await e.waitForRun(first.runId)).status).toBe("succeeded");
    expect(p.tries("ag")).toBe(1);
  });

  it("starts a manual run at once, created leased to the engine, without a claim", async () => {
    const p = probe();
    const wf = workflow("direct", [step("probe", { key: "m1" }, { id: "m1" })]);
    // Any claim of a pending run fails while this trigger is in place: only a run created leased can start.
    const noClaims = {
      name: "no_claims",
      table: "skyflow.runs",
      timing: "BEFORE UPDATE",
      body: "IF OLD.status = 'pending' AND NEW.status = 'running' THEN RAISE EXCEPTION 'no claims here'; END IF;",
    };
    await withRowTrigger(db.pool, noClaims, async () => {
      const e = engineWith([wf], p, { pollMs: 600_000 });
      await e.start();
      const { runId } = await e.trigger("direct");
      expect((await e.waitForRun(runId, 5_000)).status).toBe("succeeded");
      expect(p.tries("m1")).toBe(1);
    });
  });

  it("honours a retry-after from the error over the backoff", async () => {
    const p = probe();
    const clock = new ManualClock();
    const retry = { attempts: 2, backoff: "fixed" as const, delayMs: 10, maxDelayMs: 10, jitter: false };
    const wf = workflow("later", [step("probe", { key: "ra", fail: 1, retryAfterMs: 3000 }, { retry })]);
    const e = engineWith([wf], p, { clock, parkAfterMs: 60_000 });
    await e.start();
    const { runId } = await e.trigger("later");
    // Two timers: the retry wait and the engine's poll (on the same clock, re-armed as it fires).
    await waitFor(() => p.tries("ra") === 1 && clock.pending() === 2);
    clock.advance(2999);
    // The manual clock fires due timers within advance: the retry wait is still pending, not yet run.
    expect(clock.pending()).toBe(2);
    expect(p.tries("ra")).toBe(1);
    clock.advance(1);
    expect((await e.waitForRun(runId)).status).toBe("succeeded");
  });
});
