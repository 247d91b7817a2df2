// The engine's poll: it claims only when there is something to claim, and still finds what nobody woke it
// for.
import { afterAll, afterEach, beforeAll, expect, it } from "vitest";
import type { Engine } from "../../src/engine/engine.js";
import { enqueueRuns } from "../../src/engine/store/enqueue.js";
import { recordVersion } from "../../src/engine/store/versions.js";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { probe, probeEngine, step, workflow } from "./fixtures/defs.js";

let db: TestDatabase;
const engines: Engine[] = [];

beforeAll(async () => {
  db = await createTestDatabase("engine_poll");
});
afterEach(async () => {
  for (const e of engines.splice(0)) await e.stop({ graceMs: 0 });
});
afterAll(async () => {
  await db.drop();
});

/** Backends of this test's database waiting for a lock on skyflow.runs. */
async function runsLockWaiters(): Promise<number> {
  const { rows } = await db.pool.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM pg_locks
     WHERE NOT granted AND relation = 'skyflow.runs'::regclass
       AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
  );
  return rows[0]!.n;
}

it("polls without claiming while no run is there to claim, and claims a run queued without a wake-up", async () => {
  const p = probe();
  const wf = workflow("polled", [step("probe", { key: "pl" }, { id: "pl" })]);
  await recordVersion(db.pool, wf);
  const e = probeEngine(db.pool, engines, [wf], p, { pollMs: 50 });
  await e.start();
  await new Promise((r) => setTimeout(r, 200));
  // A claim is an UPDATE of skyflow.runs, which waits behind this lock; the poll's question does not.
  const lock = await db.pool.connect();
  try {
    await lock.query("BEGIN");
    await lock.query("LOCK TABLE skyflow.runs IN SHARE MODE");
    for (let i = 0; i < 8; i++) {
      await new Promise((r) => setTimeout(r, 50));
      expect(await runsLockWaiters()).toBe(0);
    }
  } finally {
    await lock.query("COMMIT");
    lock.release();
  }
  // Queued for any engine, with no NOTIFY and no wake(): the poll finds it.
  const [run] = await enqueueRuns(db.pool, [
    {
      workflow: "polled",
      version: wf.version,
      event: { id: "pl-1", type: "manual", at: new Date().toISOString() },
    },
  ]);
  expect((await e.waitForRun(run!.id, 5_000)).status).toBe("succeeded");
  expect(p.tries("pl")).toBe(1);
});
