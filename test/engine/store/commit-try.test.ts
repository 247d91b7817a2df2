import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPool, warmPool } from "../../../src/db/pool.js";
import {
  COMMIT_TRY_END,
  type CommittedTry,
  commitTry,
  commitTryNothing,
  committedOutput,
  LEASE_LOST_SQLSTATE,
  RECORD_PLANNING,
} from "../../../src/engine/store/commit-try.js";
import { createTestDatabase, type TestDatabase } from "../../helpers/db.js";
import { storedRuns } from "../fixtures/defs.js";

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase("store_commit_try");
});
afterAll(async () => {
  await db.drop();
});

/** Step "s"'s first try of `runId`'s first attempt, a `sql` step under owner "a", output `{}`; then `more`. */
const aTry = (runId: string, more: Partial<CommittedTry> = {}): CommittedTry => ({
  runId,
  owner: "a",
  runAttempt: 1,
  stepKey: "s",
  attempt: 1,
  kind: "sql",
  output: "{}",
  ...more,
});

const record = (client: import("pg").PoolClient, runId: string, owner: string, output: unknown) =>
  commitTry(client, aTry(runId, { owner, output: JSON.stringify(output) }));

/** A one-step run's try recorded as its end, in the transaction open on `c`, which it commits. */
const recordEnd = (c: import("pg").PoolClient, runId: string) =>
  commitTry(c, aTry(runId, { state: { snapshot: "{}", status: "succeeded", error: null } }));

describe("commitTry", () => {
  it("records the try with its output as given, quotes and dollar signs included (bound, never in the text), and commits", async () => {
    const [run] = await storedRuns(db.pool, ["c1"], "running", "a", "1 minute");
    const output = { rows: [{ t: "it's $j$ a \\ test $$" }], row_count: 1 };
    const c = await db.pool.connect();
    try {
      await c.query("BEGIN");
      await record(c, run!, "a", output);
      expect((await c.query("SELECT 1 AS one")).rows).toEqual([{ one: 1 }]);
    } finally {
      c.release();
    }
    expect(await committedOutput(db.pool, run!, 1, "s", 1)).toEqual({ output });
    expect(await committedOutput(db.pool, run!, 1, "s", 2)).toBeUndefined();
  });

  it("fails, committing nothing, when the run's lease is another engine's", async () => {
    const [run] = await storedRuns(db.pool, ["c2"], "running", "b", "1 minute");
    const c = await db.pool.connect();
    try {
      await c.query("BEGIN");
      await expect(record(c, run!, "a", {})).rejects.toMatchObject({ code: LEASE_LOST_SQLSTATE });
      // Its COMMIT rolled back: the connection is out of the transaction and usable.
      expect((await c.query("SELECT 1 AS one")).rows).toEqual([{ one: 1 }]);
    } finally {
      c.release();
    }
    expect(await committedOutput(db.pool, run!, 1, "s", 1)).toBeUndefined();
  });

  it("fails when the same engine has claimed the run again since the try began (its claim count moved on)", async () => {
    const [run] = await storedRuns(db.pool, ["c3"], "running", "a", "1 minute");
    // The engine's lease lapsed and it claimed the run again: a try of the earlier claim may not commit.
    await db.pool.query("UPDATE skyflow.runs SET claims = 2 WHERE id = $1", [run]);
    const c = await db.pool.connect();
    const commit = (claims: number) => commitTry(c, aTry(run!, { claims }));
    try {
      await c.query("BEGIN");
      await expect(commit(1)).rejects.toMatchObject({ code: LEASE_LOST_SQLSTATE });
      expect(await committedOutput(db.pool, run!, 1, "s", 1)).toBeUndefined();
      await c.query("BEGIN");
      await commit(2);
    } finally {
      c.release();
    }
    expect(await committedOutput(db.pool, run!, 1, "s", 1)).toEqual({ output: {} });
  });

  it("stores the run's state with the try in the same transaction, and the input of a row first written there", async () => {
    const [run] = await storedRuns(db.pool, ["c4"], "running", "a", "1 minute");
    const snapshot = JSON.stringify({
      status: "succeeded",
      steps: { s: { status: "succeeded", attempts: 1 } },
    });
    const c = await db.pool.connect();
    try {
      await c.query("BEGIN");
      await commitTry(
        c,
        aTry(run!, {
          output: JSON.stringify({ row_count: 1 }),
          input: JSON.stringify({ statement: "it's $1", params: ["$$"] }),
          state: { snapshot, status: "succeeded", error: null },
        }),
      );
    } finally {
      c.release();
    }
    const { rows } = await db.pool.query(
      `SELECT r.status, r.snapshot, r.lease_owner, r.lease_until, r.finished_at IS NOT NULL AS finished,
              t.status AS try, t.input, t.output, t.started_at <= t.finished_at AS ordered
       FROM skyflow.runs r JOIN skyflow.step_tries t ON t.run_id = r.id WHERE r.id = $1`,
      [run],
    );
    expect(rows).toEqual([
      {
        status: "succeeded",
        snapshot: JSON.parse(snapshot),
        lease_owner: null,
        lease_until: null,
        finished: true,
        try: "succeeded",
        input: { statement: "it's $1", params: ["$$"] },
        output: { row_count: 1 },
        ordered: true,
      },
    ]);
  });

  it("keeps the lease of a run still running after the try, and writes nothing when the lease is lost", async () => {
    const [mine, lost] = await storedRuns(db.pool, ["c5", "c6"], "running", "a", "1 minute");
    await db.pool.query("UPDATE skyflow.runs SET lease_owner = 'b' WHERE id = $1", [lost]);
    const snapshot = JSON.stringify({ status: "running", index: 1, steps: {} });
    const c = await db.pool.connect();
    const commit = (runId: string) =>
      commitTry(c, aTry(runId, { input: "{}", state: { snapshot, status: "running", error: null } }));
    try {
      await c.query("BEGIN");
      await commit(mine!);
      await c.query("BEGIN");
      await expect(commit(lost!)).rejects.toMatchObject({ code: LEASE_LOST_SQLSTATE });
    } finally {
      c.release();
    }
    const { rows } = await db.pool.query(
      `SELECT r.id, r.status, r.snapshot, r.lease_owner, r.lease_until > now() AS leased,
              (SELECT count(*)::int FROM skyflow.step_tries t WHERE t.run_id = r.id) AS tries
       FROM skyflow.runs r WHERE r.id = ANY($1) ORDER BY r.id = $2 DESC`,
      [[mine, lost], mine],
    );
    expect(rows).toEqual([
      {
        id: mine,
        status: "running",
        snapshot: JSON.parse(snapshot),
        lease_owner: "a",
        leased: true,
        tries: 1,
      },
      { id: lost, status: "running", snapshot: null, lease_owner: "b", leased: true, tries: 0 },
    ]);
  });
  it("with a state, writes nothing when the run was claimed again or is no longer running", async () => {
    const [reclaimed, cancelled] = await storedRuns(db.pool, ["c7", "c8"], "running", "a", "1 minute");
    await db.pool.query("UPDATE skyflow.runs SET claims = 2 WHERE id = $1", [reclaimed]);
    await db.pool.query("UPDATE skyflow.runs SET status = 'cancelled' WHERE id = $1", [cancelled]);
    const snapshot = JSON.stringify({ status: "succeeded", steps: {} });
    const c = await db.pool.connect();
    const commit = (runId: string) =>
      commitTry(c, aTry(runId, { claims: 1, state: { snapshot, status: "succeeded", error: null } }));
    try {
      for (const run of [reclaimed!, cancelled!]) {
        await c.query("BEGIN");
        await c.query("INSERT INTO skyflow.settings (key, value) VALUES ($1, '{}')", [`effect-${run}`]);
        await expect(commit(run)).rejects.toMatchObject({ code: LEASE_LOST_SQLSTATE });
      }
    } finally {
      c.release();
    }
    const { rows } = await db.pool.query(
      `SELECT r.status, r.snapshot, (SELECT count(*)::int FROM skyflow.step_tries t WHERE t.run_id = r.id) AS tries,
              (SELECT count(*)::int FROM skyflow.settings m WHERE m.key = 'effect-' || r.id) AS effects
       FROM skyflow.runs r WHERE r.id = ANY($1) ORDER BY r.id = $2 DESC`,
      [[reclaimed, cancelled], reclaimed],
    );
    expect(rows).toEqual([
      { status: "running", snapshot: null, tries: 0, effects: 0 },
      { status: "cancelled", snapshot: null, tries: 0, effects: 0 },
    ]);
  });

  it("with a state, finds the run by its primary key in a generic plan made while every run was pending", async () => {
    // As after a record backlog's VACUUM ANALYZE: runs_in_flight empty in the statistics.
    await storedRuns(
      db.pool,
      Array.from({ length: 2000 }, (_, i) => `p${i}`),
      "pending",
      null,
    );
    const c = await db.pool.connect();
    try {
      await c.query("ANALYZE skyflow.runs");
      await c.query("SET plan_cache_mode = force_generic_plan");
      await c.query(`PREPARE commit_end AS ${COMMIT_TRY_END}`);
      const { rows } = await c.query(
        `EXPLAIN (FORMAT JSON) EXECUTE commit_end('00000000-0000-0000-0000-000000000000', 'a', NULL, 1, 's', 1,
           'sql', NULL, '{}', '{}', 'succeeded', NULL)`,
      );
      const plan = JSON.stringify(rows[0]["QUERY PLAN"]);
      expect(plan).toContain('"Index Name":"runs_pkey"');
      expect(plan).not.toContain("runs_in_flight");
    } finally {
      await c.query("DEALLOCATE ALL; RESET plan_cache_mode").catch(() => {});
      // Discarded: pg still counts the statements it prepared on this connection as there.
      c.release(true);
    }
  });

  it("keeps finding the run by its primary key when the connection planned it while the table looked a page long", async () => {
    // As on a fresh install, or after a VACUUM ANALYZE of the runs empty (bench/peers.ts's rounds): a
    // generic plan made then read the whole table at every commit after, as it grew.
    await db.pool.query("TRUNCATE skyflow.runs CASCADE");
    await db.pool.query("VACUUM ANALYZE skyflow.runs");
    const runs = await storedRuns(
      db.pool,
      Array.from({ length: 8 }, (_, i) => `g${i}`),
      "running",
      "a",
      "1 minute",
    );
    const c = await db.pool.connect();
    const plans = async () =>
      (
        await c.query(
          "SELECT generic_plans::int AS generic, custom_plans::int AS custom FROM pg_prepared_statements WHERE name = 'skyflow_commit_try_end'",
        )
      ).rows[0] ?? { generic: 0, custom: 0 };
    try {
      const before = await plans();
      // Past Postgres's five custom plans: the generic plan is made, and kept, at one of these commits.
      for (const run of runs) {
        await c.query("BEGIN");
        await recordEnd(c, run);
      }
      // Each ran the connection's generic plan, the first too: none was planned anew (db/pool.ts GENERIC_PLANS),
      // and the connection's own statements keep Postgres's choice.
      expect(await plans()).toEqual({ generic: before.generic + 8, custom: before.custom });
      expect((await c.query("SHOW plan_cache_mode")).rows).toEqual([{ plan_cache_mode: "auto" }]);
      // The plan kept (made only now if none was, with the statistics of a table of one page).
      await c.query("SET plan_cache_mode = force_generic_plan");
      const { rows } = await c.query(
        `EXPLAIN (FORMAT JSON) EXECUTE skyflow_commit_try_end('00000000-0000-0000-0000-000000000000', 'a', NULL,
           1, 's', 1, 'sql', NULL, '{}', '{}', 'succeeded', NULL)`,
      );
      const plan = JSON.stringify(rows[0]["QUERY PLAN"]);
      expect(plan).toContain('"Index Name":"runs_pkey"');
      expect(plan).not.toContain('"Node Type":"Seq Scan"');
      // Only the record's plan: the connection's own statements are planned as before.
      expect((await c.query("SHOW enable_seqscan")).rows).toEqual([{ enable_seqscan: "on" }]);
    } finally {
      await c.query("RESET plan_cache_mode").catch(() => {});
      c.release();
    }
  });

  it("is prepared by a warm-up on each connection, planned as a try's record, writing and raising nothing", async () => {
    await db.pool.query("TRUNCATE skyflow.runs CASCADE");
    await db.pool.query("VACUUM ANALYZE skyflow.runs");
    const pool = createPool(db.url, { max: 2 });
    try {
      await warmPool(pool, 2, [commitTryNothing()], RECORD_PLANNING);
      expect([pool.totalCount, pool.idleCount]).toEqual([2, 2]);
      expect((await db.pool.query("SELECT count(*)::int AS n FROM skyflow.step_tries")).rows).toEqual([
        { n: 0 },
      ]);
      const clients = await Promise.all([pool.connect(), pool.connect()]);
      try {
        for (const c of clients) {
          // Prepared with its generic plan, made without a sequential scan (the table is empty): no custom plan.
          expect(
            (
              await c.query(
                "SELECT generic_plans::int AS generic, custom_plans::int AS custom FROM pg_prepared_statements WHERE name = 'skyflow_commit_try_end'",
              )
            ).rows,
          ).toEqual([{ generic: 1, custom: 0 }]);
          // The warm-up's transaction is over, and its settings with it.
          expect((await c.query("SHOW enable_seqscan")).rows).toEqual([{ enable_seqscan: "on" }]);
          await c.query("SET plan_cache_mode = force_generic_plan");
          const { rows } = await c.query(
            `EXPLAIN (FORMAT JSON) EXECUTE skyflow_commit_try_end('00000000-0000-0000-0000-000000000000', 'a',
               NULL, 1, 's', 1, 'sql', NULL, '{}', '{}', 'succeeded', NULL)`,
          );
          expect(JSON.stringify(rows[0]["QUERY PLAN"])).not.toContain('"Node Type":"Seq Scan"');
          await c.query("RESET plan_cache_mode");
        }
        // A try recorded on a warmed connection runs the plan made there.
        const [run] = await storedRuns(db.pool, ["w1"], "running", "a", "1 minute");
        const c = clients[0]!;
        await c.query("BEGIN");
        await recordEnd(c, run!);
        expect(await committedOutput(db.pool, run!, 1, "s", 1)).toEqual({ output: {} });
      } finally {
        for (const c of clients) c.release();
      }
    } finally {
      await pool.end();
    }
  });
});
