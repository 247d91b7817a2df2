import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { poolDb, withTransaction } from "../../../src/db/pool.js";
import { createEngine, type Engine } from "../../../src/engine/engine.js";
import { enqueueRuns } from "../../../src/engine/store/enqueue.js";
import { cancelRun, getRun, listRuns, retryRun } from "../../../src/engine/store/inspect.js";
import { silentLogger } from "../../../src/log.js";
import { createTestDatabase, type TestDatabase } from "../../helpers/db.js";
import { catalogOf, poolOnlyClients, probe, step, workflow } from "../fixtures/defs.js";

let db: TestDatabase;
let engine: Engine;
const p = probe();
const wf = workflow("twostep", [
  step("probe", { key: "a" }, { id: "a" }),
  step("probe", { key: "b", fail: 1, retryable: false, error: "Broken" }, { id: "b" }),
  step("probe", { key: "c", out: { fromA: "${{ steps.a.output.try }}" } }, { id: "c" }),
]);

beforeAll(async () => {
  db = await createTestDatabase("engine_inspect");
  engine = createEngine({
    pool: db.pool,
    catalog: catalogOf([wf]),
    clients: poolOnlyClients(db.pool),
    log: silentLogger(),
    stepKinds: { probe: p.kind },
    pollMs: 100,
  });
  await engine.start();
});
afterAll(async () => {
  await engine.stop({ graceMs: 0 });
  await db.drop();
});

describe("run inspection and manual moves", () => {
  it("lists runs by workflow and status and shows a run with its tries", async () => {
    const { runId } = await engine.trigger("twostep", { id: "first" });
    const run = await engine.waitForRun(runId);
    expect(run.status).toBe("failed");
    const failed = await listRuns(db.pool, { workflow: "twostep", status: "failed" });
    expect(failed.map((r) => r.id)).toEqual([runId]);
    expect(await listRuns(db.pool, { status: "succeeded" })).toEqual([]);
    const shown = await getRun(db.pool, runId);
    expect(shown?.tries.map((t) => `${t.stepKey}:${t.status}`)).toEqual(["a:succeeded", "b:failed"]);
    expect(shown?.eventId).toBe("first");
    expect(await getRun(db.pool, randomUUID())).toBeUndefined();
  });

  it("retries a failed run from the failed step, keeping the earlier steps' outputs", async () => {
    const [run] = await listRuns(db.pool, { workflow: "twostep", status: "failed" });
    expect(await retryRun(poolDb(db.pool), run!.id)).toBe(true);
    expect(await retryRun(poolDb(db.pool), run!.id)).toBe(false);
    engine.wake();
    const again = await engine.waitForRun(run!.id);
    expect(again.status).toBe("succeeded");
    expect(again.attempt).toBe(2);
    expect(p.tries("a")).toBe(1);
    expect(p.tries("b")).toBe(2);
    const c = again.tries.find((t) => t.stepKey === "c");
    expect(c?.output).toEqual({ fromA: 1 });
    expect(c?.runAttempt).toBe(2);
  });

  it("shows tries that began in the same save in the order they began, the finished one first", async () => {
    // A first try written only as it ends (its begin save held back) shares its save, and so its started_at,
    // with the next step's begin; the row inserted first and the key order both put the later try first.
    const [created] = await enqueueRuns(db.pool, [
      { workflow: "twostep", version: "v", event: { id: "tie", type: "manual", at: "" } },
    ]);
    const id = created!.id;
    await db.pool.query(
      `INSERT INTO skyflow.step_tries (run_id, step_key, attempt, kind, status, started_at, finished_at)
       VALUES ($1, 'a_second', 1, 'probe', 'running', '2030-01-01T00:00:00Z', NULL),
              ($1, 'z_first', 1, 'probe', 'succeeded', '2030-01-01T00:00:00Z', '2030-01-01T00:00:00Z')`,
      [id],
    );
    const shown = await getRun(db.pool, id);
    expect(shown?.tries.map((t) => t.stepKey)).toEqual(["z_first", "a_second"]);
    await db.pool.query(
      "UPDATE skyflow.step_tries SET status = 'succeeded', finished_at = '2030-01-01T00:00:01Z' WHERE run_id = $1 AND step_key = 'a_second'",
      [id],
    );
    const done = await getRun(db.pool, id);
    expect(done?.tries.map((t) => t.stepKey)).toEqual(["z_first", "a_second"]);
  });

  it("cancels a run that has not started", async () => {
    // Queued for later inside one transaction, so the running engine cannot claim it first.
    const [queued] = await withTransaction(db.pool, async (c) => {
      const rows = await enqueueRuns(c, [
        { workflow: "later", version: "v", event: { id: "e", type: "manual", at: "" } },
      ]);
      await c.query("UPDATE skyflow.runs SET available_at = now() + interval '1 hour' WHERE id = $1", [
        rows[0]!.id,
      ]);
      return rows;
    });
    expect(await cancelRun(db.pool, queued!.id)).toBe(true);
    expect((await getRun(db.pool, queued!.id))?.status).toBe("cancelled");
  });
});
