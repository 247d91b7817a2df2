// The record trigger's claim against real Postgres: it runs its generic plan from the first claim, and that
// plan reads the outbox by its primary key, though the outbox's statistics say it is empty (it is drained as
// fast as it fills).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPool, poolDb } from "../../../src/db/pool.js";
import { claimChain, claimTransaction } from "../../../src/engine/triggers/claim-tx.js";
import { CLAIM_OPTIONS, type ClaimedRow, claimOutbox } from "../../../src/engine/triggers/record/sql.js";
import { createTestDatabase, type TestDatabase } from "../../helpers/db.js";

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase("record_claim_plan");
});
afterAll(async () => {
  await db.drop();
});

const change = (key: string) =>
  db.pool.query(
    `INSERT INTO skyflow.record_outbox (op, schema_name, record_type, record_key, database_id, new_row, txid, at)
     VALUES ('create', 'app', 'note', $1, '', jsonb_build_object('_id', $1::text), txid_current(), now())`,
    [key],
  );

describe("the outbox claim", () => {
  it("keeps reading the outbox by its primary key, planned while the outbox looked empty", async () => {
    await db.pool.query("VACUUM ANALYZE skyflow.record_outbox");
    // One connection: every claim below plans (or reuses a plan) on it.
    const pool = createPool(db.url, { max: 1 });
    try {
      // Past Postgres's five custom plans, alone and chained: the generic plan is made and kept meanwhile.
      for (let i = 0; i < 4; i++) {
        await change(`a${i}`);
        const n = await claimTransaction(
          poolDb(pool),
          claimOutbox("app", 10),
          async (_tx, rows: ClaimedRow[]) => rows.length,
          CLAIM_OPTIONS,
        );
        expect(n).toBe(1);
      }
      let left = 4;
      await change("b");
      const counts = await claimChain<number, ClaimedRow>(
        pool,
        claimOutbox("app", 10),
        () => left-- > 0,
        () => {},
        async (_tx, rows) => {
          if (left > 0) await change(`c${left}`);
          return rows.length;
        },
        CLAIM_OPTIONS,
      );
      expect(counts).toEqual([1, 1, 1, 1, 1]);
      const c = await pool.connect();
      try {
        // Every claim ran the connection's generic plan, the first one too: no claim was planned anew
        // (db/pool.ts GENERIC_PLANS), and the setting held inside the claims' transactions alone.
        const plans = await c.query(
          "SELECT generic_plans::int AS generic, custom_plans::int AS custom FROM pg_prepared_statements WHERE name = 'skyflow_claim_outbox'",
        );
        expect(plans.rows).toEqual([{ generic: 9, custom: 0 }]);
        expect((await c.query("SHOW plan_cache_mode")).rows).toEqual([{ plan_cache_mode: "auto" }]);
        // The plan kept (made only now if none was, with the statistics of an empty table).
        await c.query("SET plan_cache_mode = force_generic_plan");
        const { rows } = await c.query("EXPLAIN (FORMAT JSON) EXECUTE skyflow_claim_outbox('app', 10)");
        const plan = JSON.stringify(rows[0]["QUERY PLAN"]);
        expect(plan).toContain('"Index Name":"record_outbox_pkey"');
        expect(plan).not.toContain('"Node Type":"Seq Scan"');
        // Only inside the claims' transactions.
        expect((await c.query("SHOW enable_seqscan")).rows).toEqual([{ enable_seqscan: "on" }]);
        await c.query("RESET plan_cache_mode");
      } finally {
        c.release();
      }
    } finally {
      await pool.end();
    }
  });
});
