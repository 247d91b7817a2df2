import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPool, poolDb } from "../../../src/db/pool.js";
import { newRunState } from "../../../src/engine/state.js";
import { SaveBatcher } from "../../../src/engine/store/batch.js";
import { stateItem } from "../../../src/engine/store/save.js";
import { createTestDatabase, type TestDatabase } from "../../helpers/db.js";
import { storedRuns } from "../fixtures/defs.js";

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase("store_batch");
});
afterAll(async () => {
  await db.drop();
});

describe("SaveBatcher", () => {
  it("writes a step's end and the next step's begin in one save, and idle() waits for queued saves", async () => {
    const events = Array.from({ length: 20 }, (_, i) => `e${i}`);
    const ids = await storedRuns(db.pool, events, "running", "a", "1 minute");
    const batcher = new SaveBatcher(poolDb(db.pool));
    const state = { ...newRunState(new Date().toISOString()), index: 1 };
    const saved: Promise<boolean>[] = [];
    for (const id of ids) {
      const item = stateItem({ runId: id, owner: id === ids[0] ? "b" : "a" }, state, {
        result: {
          stepKey: "s0",
          kind: "sql",
          attempt: 1,
          status: "succeeded",
          output: { n: 1 },
          durationMs: 1,
        },
        next: { stepKey: "s1", kind: "save", attempt: 1, input: { record: { _id: "note/x" } } },
      });
      saved.push(batcher.save(item));
    }
    await batcher.idle();
    const { rows } = await db.pool.query(
      "SELECT step_key, status, finished_at IS NOT NULL AS finished FROM skyflow.step_tries WHERE run_id = $1 ORDER BY step_key",
      [ids[1]],
    );
    expect(rows).toEqual([
      { step_key: "s0", status: "succeeded", finished: true },
      { step_key: "s1", status: "running", finished: false },
    ]);
    // The first run's lease is another owner's: nothing of it is written, and its caller learns that.
    expect(await Promise.all(saved)).toEqual(ids.map((id) => id !== ids[0]));
    const other = await db.pool.query("SELECT count(*)::int AS n FROM skyflow.step_tries WHERE run_id = $1", [
      ids[0],
    ]);
    expect(other.rows[0].n).toBe(0);
  });

  it("replaces a finished save try's intents with its exact rows, and leaves other runs' intents", async () => {
    const [done, busy] = await storedRuns(db.pool, ["w1", "w2"], "running", "a", "1 minute");
    const batcher = new SaveBatcher(poolDb(db.pool));
    const state = newRunState(new Date().toISOString());
    const intent = (key: string) => ({
      depth: 0,
      list: [{ recordType: "note", recordKey: key, op: "save" as const, updatedAt: null }],
    });
    const begin = (id: string, key: string) => ({
      ...stateItem({ runId: id, owner: "a" }, state, {
        next: { stepKey: "s", kind: "save", attempt: 1, input: { record: { _id: `note/${key}` } } },
      }),
      writes: intent(key),
    });
    await Promise.all([batcher.save(begin(done!, "k1")), batcher.save(begin(busy!, "k2"))]);
    const at = "2026-11-29T12:00:00.000Z";
    await batcher.save(
      stateItem(
        { runId: done!, owner: "a" },
        { ...state, status: "succeeded" },
        {
          result: {
            stepKey: "s",
            kind: "save",
            attempt: 1,
            status: "succeeded",
            output: { record: { _id: "note/k1" } },
            durationMs: 1,
          },
          writes: { depth: 0, list: [{ recordType: "note", recordKey: "k1", op: "save", updatedAt: at }] },
        },
      ),
    );
    const { rows } = await db.pool.query(
      `SELECT run_id, record_key, updated_at IS NOT NULL AS exact FROM skyflow.run_writes
       WHERE run_id = ANY($1) ORDER BY record_key`,
      [[done, busy]],
    );
    expect(rows).toEqual([
      { run_id: done, record_key: "k1", exact: true },
      { run_id: busy, record_key: "k2", exact: false },
    ]);
  });

  it("writes the saves of a batch one by one when Postgres refuses one of them, so only that one fails", async () => {
    const [good, bad] = await storedRuns(db.pool, ["p1", "p2"], "running", "a", "1 minute");
    const batcher = new SaveBatcher(poolDb(db.pool));
    const state = newRunState(new Date().toISOString());
    const ended = (id: string, output: unknown) =>
      stateItem({ runId: id, owner: "a" }, state, {
        result: { stepKey: "s", kind: "action", attempt: 1, status: "succeeded", output, durationMs: 1 },
      });
    // jsonb holds no NUL character (the runner makes outputs storable first; this item skips that).
    const results = await Promise.allSettled([
      batcher.save(ended(good!, { n: 1 })),
      batcher.save(ended(bad!, { body: "a\u0000b" })),
    ]);
    expect(results[0]).toEqual({ status: "fulfilled", value: true });
    expect(results[1]!.status).toBe("rejected");
    expect(((results[1] as PromiseRejectedResult).reason as { code?: string }).code).toMatch(/^22/);
    const { rows } = await db.pool.query(
      "SELECT run_id, output FROM skyflow.step_tries WHERE run_id = ANY($1) ORDER BY run_id = $2 DESC",
      [[good, bad], good],
    );
    expect(rows).toEqual([{ run_id: good, output: { n: 1 } }]);
  });

  it("extends the lease of each run it saves as running, tells when that save was sent, and ends the lease of a finished run", async () => {
    const [going, ending] = await storedRuns(db.pool, ["l1", "l2"], "running", "a", "1 second");
    const leased: { ids: string[]; sentAt: number }[] = [];
    const batcher = new SaveBatcher(poolDb(db.pool), {
      leaseMs: 60_000,
      onLeased: (ids, sentAt) => leased.push({ ids, sentAt }),
    });
    const before = performance.now();
    const state = newRunState(new Date().toISOString());
    await Promise.all([
      batcher.save(stateItem({ runId: going!, owner: "a" }, state)),
      batcher.save(stateItem({ runId: ending!, owner: "a" }, { ...state, status: "succeeded" })),
    ]);
    const { rows } = await db.pool.query(
      `SELECT id, lease_owner, lease_until > now() + interval '50 seconds' AS extended
       FROM skyflow.runs WHERE id = ANY($1)`,
      [[going, ending]],
    );
    expect(Object.fromEntries(rows.map((r) => [r.id, [r.lease_owner, r.extended]]))).toEqual({
      [going!]: ["a", true],
      [ending!]: [null, null],
    });
    expect(leased.map((l) => l.ids)).toEqual([[going]]);
    expect(leased[0]!.sentAt).toBeGreaterThanOrEqual(before);
    expect(leased[0]!.sentAt).toBeLessThanOrEqual(performance.now());
  });

  it("runs its statement with a generic plan from the first save on a connection, with no custom plans", async () => {
    // Planning the save statement costs about what running it costs; Postgres would plan it anew (a custom
    // plan) on each of the first five executions on each connection, with the same plan every time.
    const one = createPool(db.url, { max: 1 });
    try {
      const ids = await storedRuns(one, ["g1", "g2"], "running", "a", "1 minute");
      const batcher = new SaveBatcher(poolDb(one));
      const state = newRunState(new Date().toISOString());
      for (const id of ids)
        expect(await batcher.save(stateItem({ runId: id, owner: "a" }, state))).toBe(true);
      // The pool's one connection: the one that ran the saves.
      const { rows } = await one.query(
        "SELECT generic_plans::int AS generic, custom_plans::int AS custom FROM pg_prepared_statements WHERE name = 'skyflow_save_runs'",
      );
      expect(rows).toEqual([{ generic: 2, custom: 0 }]);
    } finally {
      await one.end();
    }
  });
});
