// claimChain against real Postgres: claim transactions chained on one connection, each next BEGIN and claim
// sent with the COMMIT before it, and what an error rolls back.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { Statement } from "../../../src/db/pool.js";
import { claimChain } from "../../../src/engine/triggers/claim-tx.js";
import { createTestDatabase, type TestDatabase } from "../../helpers/db.js";

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase("claim_chain");
  await db.pool.query("CREATE TABLE work (id int PRIMARY KEY)");
  await db.pool.query("CREATE TABLE done (id int PRIMARY KEY, tx bigint NOT NULL)");
});
afterAll(async () => {
  await db.drop();
});
beforeEach(async () => {
  await db.pool.query("TRUNCATE work, done");
});

/** Claims the two lowest work rows, as the outbox claim does (deleting them, skipping locked ones). */
const claim: Statement = {
  text: `DELETE FROM work WHERE id = ANY(ARRAY(SELECT id FROM work ORDER BY id FOR UPDATE SKIP LOCKED LIMIT 2))
         RETURNING id, txid_current()::text AS tx`,
};
const record = (ids: number[]): Statement => ({
  text: "INSERT INTO done (id, tx) SELECT unnest($1::int[]), txid_current()",
  values: [ids],
});
const addWork = (ids: number[]) => db.pool.query("INSERT INTO work SELECT unnest($1::int[])", [ids]);
type Row = { id: number; tx: string };

describe("claimChain", () => {
  it("claims the next rows in the round trip that commits the last ones while more() says so", async () => {
    await addWork([1, 2, 3, 4, 5]);
    let sent = 0;
    const seen: number[][] = [];
    const acked: number[] = [];
    const out = await claimChain<number, Row>(
      db.pool,
      claim,
      (claimed) => claimed > 0,
      () => sent++,
      async (tx, rows, committed) => {
        const ids = rows.map((r) => r.id);
        seen.push(ids);
        const k = seen.length;
        void committed.then(() => acked.push(k));
        // The claim ran in this transaction: its rows are not committed as gone before the COMMIT.
        if (rows.length > 0) expect(new Set(rows.map((r) => r.tx)).size).toBe(1);
        if (ids.length > 0) await tx.commitWith(record(ids));
        return ids.length;
      },
    );
    // Three claims of rows and a last, empty one (more() said no after it): four transactions, four claims.
    expect(seen).toEqual([[1, 2], [3, 4], [5], []]);
    expect(out).toEqual([2, 2, 1, 0]);
    expect(sent).toBe(4);
    expect(acked).toEqual([1, 2, 3, 4]);
    const { rows } = await db.pool.query<{ id: number; tx: string }>(
      "SELECT id, tx::text FROM done ORDER BY id",
    );
    expect(rows.map((r) => r.id)).toEqual([1, 2, 3, 4, 5]);
    // Each claim's rows were recorded in the transaction that claimed them, and each batch in its own.
    expect(new Set(rows.map((r) => r.tx)).size).toBe(3);
    expect((await db.pool.query("SELECT count(*)::int AS n FROM work")).rows[0].n).toBe(0);
  });

  it("ends the chain when more() says no, committing what was done", async () => {
    await addWork([1, 2, 3, 4, 5]);
    const out = await claimChain<number, Row>(
      db.pool,
      claim,
      () => false,
      () => {},
      async (tx, rows) => {
        await tx.commitWith(record(rows.map((r) => r.id)));
        return rows.length;
      },
    );
    expect(out).toEqual([2]);
    expect((await db.pool.query("SELECT count(*)::int AS n FROM done")).rows[0].n).toBe(2);
    expect((await db.pool.query("SELECT count(*)::int AS n FROM work")).rows[0].n).toBe(3);
  });

  it("commits a transaction whose fn sent no COMMIT, and chains from it", async () => {
    await addWork([1, 2, 3]);
    let calls = 0;
    const out = await claimChain<number, Row>(
      db.pool,
      claim,
      () => ++calls < 2,
      () => {},
      async (tx, rows) => {
        await tx.query(record(rows.map((r) => r.id)));
        return rows.length;
      },
    );
    expect(out).toEqual([2, 1]);
    expect((await db.pool.query("SELECT count(*)::int AS n FROM done")).rows[0].n).toBe(3);
  });

  it("on a failed last statement, rolls back its transaction and the claim chained to it, and keeps the ones before", async () => {
    await addWork([1, 2, 3, 4, 5]);
    let acked = 0;
    let failed = 0;
    const err = await claimChain<number, Row>(
      db.pool,
      claim,
      () => true,
      () => {},
      async (tx, rows, committed) => {
        committed.then(
          () => acked++,
          () => failed++,
        );
        const ids = rows.map((r) => r.id);
        // The second transaction records a row twice: a unique violation, sent with its COMMIT.
        await tx.commitWith(record(ids.includes(3) ? [...ids, 3] : ids));
        return ids.length;
      },
    ).catch((e: unknown) => e);
    expect((err as { code?: string }).code).toBe("23505");
    await Promise.resolve();
    expect([acked, failed]).toEqual([1, 1]);
    const done = await db.pool.query<{ id: number }>("SELECT id FROM done ORDER BY id");
    expect(done.rows.map((r) => r.id)).toEqual([1, 2]);
    // 3 and 4 (the failed transaction's) are back, and so is what the claim chained after its COMMIT took.
    const left = await db.pool.query<{ id: number }>("SELECT id FROM work ORDER BY id");
    expect(left.rows.map((r) => r.id)).toEqual([3, 4, 5]);
    // The connection went back to the pool usable, no transaction left open on it.
    const open = await db.pool.query(
      "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND state LIKE 'idle in transaction%'",
    );
    expect(open.rows[0].n).toBe(0);
  });
});
