import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TriggerEvent } from "../../../src/engine/definition/types.js";
import { enqueueRuns } from "../../../src/engine/store/enqueue.js";
import { createTestDatabase, type TestDatabase } from "../../helpers/db.js";

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase("store_tries_of_runs");
});
afterAll(async () => {
  await db.drop();
});

async function runWithTries(eventId: string): Promise<string> {
  const [r] = await enqueueRuns(db.pool, [
    { workflow: "w", version: "v1", event: { id: eventId } as TriggerEvent },
  ]);
  await db.pool.query(
    `INSERT INTO skyflow.step_tries (run_id, step_key, attempt, kind, status)
     VALUES ($1, 'a', 1, 'sql', 'succeeded'), ($1, 'b', 1, 'sql', 'running')`,
    [r!.id],
  );
  return r!.id;
}

const triesOf = async (id: string) =>
  (await db.pool.query("SELECT count(*)::int AS n FROM skyflow.step_tries WHERE run_id = $1", [id])).rows[0]
    .n;

describe("a run's step tries", () => {
  it("are written without a foreign key check on the run (migration 126)", async () => {
    const { rows } = await db.pool.query(
      "SELECT conname FROM pg_constraint WHERE conrelid = 'skyflow.step_tries'::regclass AND contype = 'f'",
    );
    expect(rows).toEqual([]);
  });

  it("go with their run when it is deleted, and with every run when the runs are truncated", async () => {
    const gone = await runWithTries("e1");
    const kept = await runWithTries("e2");
    await db.pool.query("DELETE FROM skyflow.runs WHERE id = $1", [gone]);
    expect([await triesOf(gone), await triesOf(kept)]).toEqual([0, 2]);
    await db.pool.query("TRUNCATE skyflow.runs CASCADE");
    const { rows } = await db.pool.query("SELECT count(*)::int AS n FROM skyflow.step_tries");
    expect(rows[0].n).toBe(0);
  });
});
