// `sql` steps ready together share one transaction (src/steps/sql-group.ts), each with its record, or, when
// that transaction rolls back, run alone as if it had never been. The engine's record of a try is stood in for
// by a row of `records`, sent the way the engine sends it: with the COMMIT of the step's transaction.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { commitWith } from "../../src/db/pool.js";
import { silentLogger } from "../../src/log.js";
import { sql } from "../../src/steps/sql.js";
import type { SharedCommit, StepContext } from "../../src/steps/types.js";
import { poolOnlyClients } from "../engine/fixtures/defs.js";
import { backendsRunning, createTestDatabase, sequenceUsed, type TestDatabase } from "../helpers/db.js";
import { waitFor } from "../helpers/wait.js";

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase("steps_sql_group");
  await db.pool.query(`CREATE SCHEMA IF NOT EXISTS app_skyflow;
    CREATE SEQUENCE app_skyflow.ran;
    CREATE TABLE app_skyflow.seen (k text PRIMARY KEY, tx bigint NOT NULL DEFAULT txid_current(),
      n bigint NOT NULL DEFAULT nextval('app_skyflow.ran'));
    CREATE TABLE app_skyflow.records (k text PRIMARY KEY CHECK (k NOT LIKE '%refused'))`);
});
afterAll(async () => {
  await db.drop();
});

// One text per test (the tag: the key's prefix): a statement whose group rolled back goes alone a while.
const insertOf = (k: string) =>
  `INSERT INTO seen (k) SELECT $1 FROM pg_sleep($2::float) RETURNING k /* ${k.split("_")[0]} */`;

/** A step's context whose commit sends its record with the COMMIT, noting how it was asked to commit. */
function member(
  k: string,
  sleepS = 0,
  statement = insertOf(k),
  params = statement.startsWith("INSERT INTO seen") ? [k, sleepS] : [k],
) {
  const ac = new AbortController();
  const via: string[] = [];
  const ctx: StepContext<{ statement: string; params: unknown[] }> = {
    input: { statement, params },
    signal: ac.signal,
    attempt: 1,
    idempotencyKey: k,
    log: silentLogger(),
    clients: poolOnlyClients(db.pool),
    async commit(c, _out) {
      const shared = "commitWith" in c;
      via.push(shared ? "group" : "alone");
      const rec = { text: "INSERT INTO app_skyflow.records (k) VALUES ($1)", values: [k] };
      await (shared ? (c as SharedCommit).commitWith(rec) : commitWith(c, rec));
    },
  };
  return { k, ctx, via, abort: () => ac.abort(new Error(`${k} aborted`)) };
}

const run = (m: ReturnType<typeof member>) =>
  sql.run(m.ctx as never).then(
    (out) => ({ ok: true as const, out }),
    (err: unknown) => ({ ok: false as const, err }),
  );

async function table(name: string, prefix: string) {
  const { rows } = await db.pool.query(`SELECT * FROM app_skyflow.${name} WHERE k LIKE $1 ORDER BY k`, [
    `${prefix}%`,
  ]);
  return rows;
}

/**
 * `fn` while another step runs, its transaction waiting for a lock the test holds: steps that find none
 * running go alone at once.
 */
let others = 0;
async function whileOneRuns<T>(fn: () => Promise<T>): Promise<T> {
  const holder = await db.pool.connect();
  await holder.query("BEGIN; SELECT pg_advisory_xact_lock(4242)");
  const other = run(member(`4242_${++others}`, 0, "SELECT pg_advisory_xact_lock(4242), $1::text"));
  try {
    return await fn();
  } finally {
    await holder.query("COMMIT");
    holder.release();
    expect((await other).ok).toBe(true);
  }
}

const spent = () => sequenceUsed(db.pool, "app_skyflow.ran");

describe("sql steps ready in the same turn", () => {
  it("commit in one transaction, each with its record", async () => {
    const ms = ["one_a", "one_b", "one_c", "one_d"].map((k) => member(k));
    const outs = await whileOneRuns(() => Promise.all(ms.map(run)));
    expect(outs.map((o) => o.ok && o.out)).toEqual(ms.map((m) => ({ rows: [{ k: m.k }], row_count: 1 })));
    const seen = await table("seen", "one_");
    expect(seen.map((r) => r.k)).toEqual(["one_a", "one_b", "one_c", "one_d"]);
    expect(new Set(seen.map((r) => r.tx)).size).toBe(1);
    expect((await table("records", "one_")).map((r) => r.k)).toEqual(["one_a", "one_b", "one_c", "one_d"]);
    expect(ms.map((m) => m.via)).toEqual(ms.map(() => ["group"]));
  });

  it("each run alone, in a transaction of its own, when grouping is off (SKYFLOW_SQL_GROUP=off)", async () => {
    const ms = ["off_a", "off_b", "off_c"].map((k) => member(k));
    for (const m of ms) m.ctx.clients = { ...m.ctx.clients, sqlGroup: false };
    const outs = await whileOneRuns(() => Promise.all(ms.map(run)));
    expect(outs.map((o) => o.ok)).toEqual([true, true, true]);
    expect(new Set((await table("seen", "off_")).map((r) => r.tx)).size).toBe(3);
    expect(ms.map((m) => m.via)).toEqual(ms.map(() => ["alone"]));
  });

  it("run alone when one statement fails: the others commit once, it fails as alone", async () => {
    await db.pool.query("INSERT INTO app_skyflow.seen (k) VALUES ('dup_x')");
    const before = await spent();
    const ms = ["dup_a", "dup_b", "dup_x", "dup_c"].map((k) => member(k));
    const outs = await whileOneRuns(() => Promise.all(ms.map(run)));
    expect(outs.map((o) => o.ok)).toEqual([true, true, false, true]);
    expect((outs[2] as { err: { code?: string } }).err.code).toBe("23505");
    expect((await table("seen", "dup_")).map((r) => r.k)).toEqual(["dup_a", "dup_b", "dup_c", "dup_x"]);
    expect((await table("records", "dup_")).map((r) => r.k)).toEqual(["dup_a", "dup_b", "dup_c"]);
    // The group ran dup_a, dup_b and dup_x (rolled back at dup_x), then each of the four ran alone.
    expect((await spent()) - before).toBe(3 + 4);
    expect(ms.map((m) => m.via)).toEqual([["alone"], ["alone"], [], ["alone"]]);
    // For a while after, that statement's steps go alone (ALONE_AFTER_ROLLBACK_MS).
    const later = ["dup_d", "dup_e"].map((k) => member(k));
    expect((await whileOneRuns(() => Promise.all(later.map(run)))).every((o) => o.ok)).toBe(true);
    expect(later.map((m) => m.via)).toEqual([["alone"], ["alone"]]);
  });

  it("run alone when one record fails: the others commit once, it fails as alone", async () => {
    const ms = ["rec_refused", "rec_a", "rec_b"].map((k) => member(k));
    const outs = await whileOneRuns(() => Promise.all(ms.map(run)));
    expect(outs.map((o) => o.ok)).toEqual([false, true, true]);
    expect((outs[0] as { err: { code?: string } }).err.code).toBe("23514");
    expect((await table("seen", "re")).map((r) => r.k)).toEqual(["rec_a", "rec_b"]);
    expect((await table("records", "re")).map((r) => r.k)).toEqual(["rec_a", "rec_b"]);
    expect(ms.map((m) => m.via)).toEqual(ms.map(() => ["group", "alone"]));
  });

  it("run alone when one is aborted while the group's statements run: it throws its abort", async () => {
    const before = await spent();
    const ms = [member("abt_a"), member("abt_slow", 30), member("abt_b")];
    const outs = whileOneRuns(async () => {
      const outs = Promise.all(ms.map(run));
      await waitFor(
        async () => (await backendsRunning(db.pool, "INSERT INTO seen%", "wait_event = 'PgSleep'")) === 1,
        5_000,
      );
      ms[1]!.abort();
      return outs;
    });
    const [a, slow, b] = await outs;
    expect([a!.ok, slow!.ok, b!.ok]).toEqual([true, false, true]);
    expect((slow as { err: Error }).err.message).toBe("abt_slow aborted");
    expect((await table("seen", "abt_")).map((r) => r.k)).toEqual(["abt_a", "abt_b"]);
    expect((await table("records", "abt_")).map((r) => r.k)).toEqual(["abt_a", "abt_b"]);
    // abt_a ran in the group before the slow one was cancelled, then alone with abt_b.
    expect((await spent()) - before).toBe(1 + 2);
    expect(ms.map((m) => m.via)).toEqual([["alone"], [], ["alone"]]);
  });

  it("run alone when one's commit gives up before sending its record", async () => {
    const ms = ["gone_a", "gone_x", "gone_b"].map((k) => member(k));
    const inner = ms[1]!.ctx.commit!;
    let first = true;
    ms[1]!.ctx.commit = async (c, out) => {
      if (first) {
        first = false;
        throw new Error("cancelled; not committed");
      }
      await inner(c, out);
    };
    const outs = await whileOneRuns(() => Promise.all(ms.map(run)));
    expect(outs.map((o) => o.ok)).toEqual([true, true, true]);
    expect((await table("records", "gone_")).map((r) => r.k)).toEqual(["gone_a", "gone_b", "gone_x"]);
    expect(ms.map((m) => m.via)).toEqual([["group", "alone"], ["alone"], ["group", "alone"]]);
  });

  it("do not run again alone when the connection is lost with their COMMIT: each fails as alone", async () => {
    const ms = ["lost_a", "lost_b", "lost_c"].map((k) => member(k));
    // lost_b's record ends its connection: whether the COMMIT sent with it landed is not known to the step.
    const inner = ms[1]!.ctx.commit!;
    ms[1]!.ctx.commit = async (c, out) => {
      if (!("commitWith" in c)) return inner(c, out);
      ms[1]!.via.push("group");
      await (c as SharedCommit).commitWith({ text: "SELECT pg_terminate_backend(pg_backend_pid())" });
    };
    const outs = await whileOneRuns(() => Promise.all(ms.map(run)));
    expect(outs.map((o) => o.ok)).toEqual([false, false, false]);
    expect(ms.map((m) => m.via)).toEqual(ms.map(() => ["group"]));
    expect(await table("records", "lost_")).toEqual([]);
  });

  it("group one statement one group at a time: two updating the same rows in other orders never deadlock", async () => {
    await db.pool.query(
      "CREATE TABLE app_skyflow.hot (k text PRIMARY KEY, n int NOT NULL); INSERT INTO app_skyflow.hot VALUES ('x', 0), ('y', 0)",
    );
    // Each holds its row a while (RETURNING runs after the update): the groups' statements interleave.
    const bump = "UPDATE hot SET n = n + 1 WHERE k = $2 RETURNING $1::text, pg_sleep(0.03)";
    // The first eight update x then y, the next eight y then x (GROUP_MAX: 8).
    const rows = [..."xyxyxyxy", ..."yxyxyxyx"];
    const ms = rows.map((row, i) => member(`hot_${i}`, 0, bump, [`hot_${i}`, row]));
    const outs = await whileOneRuns(() => Promise.all(ms.map(run)));
    expect(outs.every((o) => o.ok)).toBe(true);
    expect((await db.pool.query("SELECT k, n FROM app_skyflow.hot ORDER BY k")).rows).toEqual([
      { k: "x", n: 8 },
      { k: "y", n: 8 },
    ]);
    // Both groups committed: neither was rolled back by a deadlock (nor waited for one to be found).
    expect(ms.map((m) => m.via)).toEqual(ms.map(() => ["group"]));
  });

  it("go alone when their statement's group in flight is held up (STUCK_MS)", async () => {
    const wait = "SELECT pg_advisory_xact_lock($2::bigint), $1::text";
    // The first two group, and wait for the lock whileOneRuns holds; the next two need no lock.
    const held = ["held_a", "held_b"].map((k) => member(k, 0, wait, [k, 4242]));
    const free = ["free_a", "free_b"].map((k) => member(k, 0, wait, [k, 7]));
    const [heldOuts, freeOuts] = await whileOneRuns(async () => {
      const h = Promise.all(held.map(run));
      await waitFor(
        async () =>
          (await backendsRunning(db.pool, "SELECT pg_advisory_xact_lock($2%", "wait_event_type = 'Lock'")) ===
          1,
        5_000,
      );
      // These end while the group still waits (the lock is released only after).
      const f = await Promise.all(free.map(run));
      return [h, f] as const;
    });
    expect((await heldOuts).every((o) => o.ok)).toBe(true);
    expect(freeOuts.every((o) => o.ok)).toBe(true);
    expect([...held, ...free].map((m) => m.via)).toEqual([["group"], ["group"], ["alone"], ["alone"]]);
  });

  it("goes alone, at once, while no other runs", async () => {
    const m = member("lone");
    expect((await run(m)).ok).toBe(true);
    expect(m.via).toEqual(["alone"]);
  });
});
