import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadMigrations, migrate } from "../../../src/db/migrate.js";
import { poolDb, type Statement } from "../../../src/db/pool.js";
import type { TriggerEvent } from "../../../src/engine/definition/types.js";
import { runIdFor } from "../../../src/engine/ids.js";
import { enqueueRuns } from "../../../src/engine/store/enqueue.js";
import { createTestDatabase, type TestDatabase } from "../../helpers/db.js";

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase("store_enqueue");
});
afterAll(async () => {
  await db.drop();
});

const run = (workflow: string, id: string) => ({ workflow, version: "v1", event: { id } as TriggerEvent });

const tricky = {
  id: "ev-5",
  note: "it's $1 and $2::text, $j$ or $j0$; \\ DROP TABLE x; --",
  n: [1, "'"],
};

describe("enqueueRuns", () => {
  it("derives a run's id from its workflow and event id, so a run created again has the same id", async () => {
    const [a] = await enqueueRuns(db.pool, [run("w1", "ev-1")]);
    expect(a!.id).toBe(runIdFor("w1", "ev-1"));
    // Another workflow's run of the same event is another run.
    const [b] = await enqueueRuns(db.pool, [run("w2", "ev-1")]);
    expect(b!.id).not.toBe(a!.id);
    // As if the first run's transaction had been lost: the same event brings back the same id.
    await db.pool.query("DELETE FROM skyflow.runs WHERE id = $1", [a!.id]);
    const [again] = await enqueueRuns(db.pool, [run("w1", "ev-1")]);
    expect(again!.id).toBe(a!.id);
  });

  it("creates one run for an event given twice, by the primary key alone", async () => {
    const twice = await enqueueRuns(db.pool, [run("w3", "ev-2"), run("w3", "ev-2"), run("w3", "ev-3")]);
    expect(twice.map((r) => r.eventId)).toEqual(["ev-2", "ev-3"]);
    expect(await enqueueRuns(db.pool, [run("w3", "ev-3")])).toEqual([]);
    // No second unique index to write for every run (migration 125).
    const { rows } = await db.pool.query(
      `SELECT indexrelid::regclass::text AS name FROM pg_index
       WHERE indrelid = 'skyflow.runs'::regclass AND indisunique ORDER BY 1`,
    );
    expect(rows.map((r) => r.name)).toEqual(["skyflow.runs_pkey"]);
  });

  it("still creates nothing for an event run before the upgrade under an id that was not derived", async () => {
    const old = await createTestDatabase("store_enqueue_old");
    try {
      // The database as it was before migration 125, holding a run with a random id (ids before 2026-11-29).
      await old.pool.query("DROP SCHEMA skyflow CASCADE");
      await migrate(
        old.pool,
        (await loadMigrations()).filter((m) => m.id < 125),
      );
      await old.pool.query(
        "INSERT INTO skyflow.runs (id, workflow, version, event_id, event) VALUES ($1, 'w3', 'v1', 'ev-4', '{}')",
        [randomUUID()],
      );
      await migrate(old.pool);
      expect(await enqueueRuns(old.pool, [run("w3", "ev-4")])).toEqual([]);
      expect((await enqueueRuns(old.pool, [run("w3", "ev-5")])).map((r) => r.eventId)).toEqual(["ev-5"]);
      const { rows } = await old.pool.query(
        "SELECT count(*)::int AS n FROM skyflow.runs WHERE workflow = 'w3'",
      );
      expect(rows[0].n).toBe(2);
    } finally {
      await old.drop();
    }
  });

  it("can send the insert with its transaction's COMMIT, values bound (never in the statement's text)", async () => {
    let committedRows = 0;
    const [r] = await poolDb(db.pool).tx(async (tx) => {
      const created = await enqueueRuns(
        tx,
        [
          { workflow: "w4", version: "v1", event: tricky as unknown as TriggerEvent },
          { workflow: "w4", version: "v1", event: { id: "ev-6" } as TriggerEvent, leased: true },
        ],
        { owner: "engine-'a'", leaseMs: 30_000 },
        {
          commitWith: async <R extends Record<string, unknown>>(s: Statement) => {
            // The values travel apart from the text: nothing of the event is in it.
            expect(s.text).not.toContain("DROP TABLE");
            const out = await tx.commitWith<R>(s);
            committedRows = out.rows.length;
            return out;
          },
        },
      );
      return created;
    });
    expect(committedRows).toBe(2);
    expect(r!.id).toBe(runIdFor("w4", "ev-5"));
    // Committed: another connection sees the runs, the event exact, the lease where one was asked for.
    const { rows } = await db.pool.query(
      "SELECT event, lease_owner, status FROM skyflow.runs WHERE workflow = 'w4' ORDER BY seq",
    );
    expect(rows).toEqual([
      {
        event: { id: "ev-5", note: "it's $1 and $2::text, $j$ or $j0$; \\ DROP TABLE x; --", n: [1, "'"] },
        lease_owner: null,
        status: "pending",
      },
      { event: { id: "ev-6" }, lease_owner: "engine-'a'", status: "running" },
    ]);
  });
});
