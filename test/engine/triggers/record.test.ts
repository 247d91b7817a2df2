// Record trigger against real Postgres: the row trigger, the outbox claim, encoding, filters, restarts and
// two engines sharing one database.
import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createPool } from "../../../src/db/pool.js";
import { startTriggers, type Triggers } from "../../../src/engine/triggers/index.js";
import { outboxDepth, raiseArmed, triggerState } from "../../../src/engine/triggers/record/sql.js";
import { silentLogger } from "../../../src/log.js";
import {
  createTestDatabase,
  cutConnectionsEvery,
  type TestDatabase,
  terminateBackends,
} from "../../helpers/db.js";
import {
  catalog,
  countRuns,
  createRecordTable,
  insertRecord,
  runsOf,
  waitFor,
  when,
  workflow,
} from "./helpers.js";

const APP = "app_rec";
let db: TestDatabase;
const running: Triggers[] = [];

async function start(cat: ReturnType<typeof catalog>, wake: () => void = () => {}): Promise<Triggers> {
  const t = await startTriggers({ pool: db.pool, catalog: cat, appSchema: APP, wake, log: silentLogger() });
  running.push(t);
  return t;
}

async function stopAll(): Promise<void> {
  await Promise.all(running.splice(0).map((t) => t.stop()));
}

beforeAll(async () => {
  db = await createTestDatabase("triggers_record");
  await createRecordTable(db.pool, APP, "user");
  await createRecordTable(
    db.pool,
    APP,
    "task",
    `ADD COLUMN title text, ADD COLUMN status text, ADD COLUMN priority double precision,
     ADD COLUMN due timestamp without time zone, ADD COLUMN meta jsonb,
     ADD COLUMN assignee text CONSTRAINT fk_assignee_user__id REFERENCES ${APP}."user"(_id)`,
  );
  await insertRecord(db.pool, APP, "user", "alice");
});
afterEach(stopAll);
afterAll(async () => {
  await stopAll();
  await db.drop();
});

const onTask = (
  name: string,
  extra: Partial<{ events: ("create" | "update" | "delete")[]; when: string }> = {},
) =>
  workflow(name, [
    {
      kind: "record",
      type: "task",
      database: "_public",
      events: extra.events ?? ["create", "update"],
      ...(extra.when ? { when: when(extra.when) } : {}),
    },
  ]);

describe("record trigger", () => {
  it("skips a change nested too deep to read, goes on with the next, and redacts credential fields", async () => {
    await start(catalog([onTask("on_task_hostile", { events: ["create"] })]));
    await insertRecord(db.pool, APP, "task", "deep", { meta: `${"[".repeat(1500)}${"]".repeat(1500)}` });
    await insertRecord(db.pool, APP, "task", "after", {
      title: "After",
      meta: JSON.stringify({ password: "hunter2", nested: { access_token: "tok" }, keep: 1 }),
    });
    const runs = await waitFor(
      () => runsOf(db.pool, "on_task_hostile"),
      (r) => r.length === 1,
    );
    const record = (runs[0]!.event as { record: Record<string, unknown> }).record;
    expect(record._id).toBe("task/after");
    expect(record.meta).toEqual({ password: "[redacted]", nested: { access_token: "[redacted]" }, keep: 1 });
  });

  it("starts a run for an insert, with the record encoded as record:query returns it, and wakes the engine", async () => {
    let woken = 0;
    await start(catalog([onTask("on_task")]), () => woken++);
    await insertRecord(db.pool, APP, "task", "t1", {
      title: "Report",
      priority: 3,
      due: "2026-05-01 12:30:00.25",
      meta: JSON.stringify({ a: [1] }),
      assignee: "alice",
    });
    const runs = await waitFor(
      () => runsOf(db.pool, "on_task"),
      (r) => r.length === 1,
    );
    expect(runs).toHaveLength(1);
    const ev = runs[0]!.event;
    expect(ev).toMatchObject({
      type: "record",
      op: "create",
      record_type: "task",
      database: "_public",
      original: null,
    });
    expect(ev.record).toMatchObject({
      _id: "task/t1",
      _type: "record",
      _access: null,
      _ownerID: "u1",
      title: "Report",
      priority: 3,
      due: { $type: "date", $date: "2026-05-01T12:30:00.25Z" },
      meta: { a: [1] },
      assignee: { $type: "ref", $id: "user/alice" },
    });
    expect(ev.record!["_created_at"]).toMatch(/Z$/);
    expect(runs[0]!.event_id).toBe(ev["id"]);
    expect(woken).toBeGreaterThan(0);
  });

  it("filters updates with `when` on a changed field and gives the original", async () => {
    const wf = onTask("on_done", {
      events: ["update"],
      when: "event.record.status == 'done' && event.original.status != 'done'",
    });
    await start(catalog([wf]));
    await insertRecord(db.pool, APP, "task", "t2", { title: "A", status: "open" });
    await db.pool.query(`UPDATE ${APP}.task SET title = 'B' WHERE _id = 't2'`);
    await db.pool.query(`UPDATE ${APP}.task SET status = 'done' WHERE _id = 't2'`);
    await db.pool.query(`UPDATE ${APP}.task SET title = 'C' WHERE _id = 't2'`);
    const runs = await waitFor(
      () => runsOf(db.pool, "on_done"),
      (r) => r.length >= 1,
    );
    await new Promise((r) => setTimeout(r, 300));
    const all = await runsOf(db.pool, "on_done");
    expect(all).toHaveLength(1);
    expect(runs[0]!.event).toMatchObject({
      op: "update",
      record: { status: "done", title: "B" },
      original: { status: "open" },
    });
  });

  it("gives a delete event the record as it was", async () => {
    await insertRecord(db.pool, APP, "task", "t3", { title: "Gone soon" });
    await start(catalog([onTask("on_delete", { events: ["delete"] })]));
    await db.pool.query(`DELETE FROM ${APP}.task WHERE _id = 't3'`);
    const runs = await waitFor(
      () => runsOf(db.pool, "on_delete"),
      (r) => r.length === 1,
    );
    expect(runs).toHaveLength(1);
    expect(runs[0]!.event).toMatchObject({
      op: "delete",
      record: { _id: "task/t3", title: "Gone soon" },
      original: null,
    });
  });

  it("ignores private-database records for a _public trigger and takes them for _private", async () => {
    const pub = onTask("pub_only");
    const priv = workflow("priv_only", [
      { kind: "record", type: "task", database: "_private", events: ["create"] },
    ]);
    await start(catalog([pub, priv]));
    await db.pool.query(
      `INSERT INTO ${APP}.task (_id, _database_id, _owner_id, _created_at, _updated_at, title)
       VALUES ('p1', 'u9', 'u9', now(), now(), 'mine')`,
    );
    await waitFor(
      () => countRuns(db.pool, "priv_only"),
      (n) => n === 1,
    );
    expect(await countRuns(db.pool, "priv_only")).toBe(1);
    expect(await countRuns(db.pool, "pub_only")).toBe(0);
  });

  it("processes each of 1,000 changes made while no engine ran exactly once after start", async () => {
    const cat = catalog([onTask("backlog", { events: ["create"] })]);
    await start(cat);
    await stopAll();
    await db.pool.query(
      `INSERT INTO ${APP}.task (_id, _database_id, _owner_id, _created_at, _updated_at, title)
       SELECT 'b' || i, '', 'u1', now(), now(), 'x' || i FROM generate_series(1, 1000) i`,
    );
    expect(await countRuns(db.pool, "backlog")).toBe(0);
    await start(cat);
    await waitFor(
      () => countRuns(db.pool, "backlog"),
      (n) => n >= 1000,
    );
    await new Promise((r) => setTimeout(r, 300));
    const { rows } = await db.pool.query(
      "SELECT count(*)::int AS n, count(DISTINCT event->'record'->>'_id')::int AS d FROM skyflow.runs WHERE workflow = 'backlog'",
    );
    expect(rows[0]).toEqual({ n: 1000, d: 1000 });
  });

  it("with two engines, starts one run per change for 5,000 concurrent changes", async () => {
    const cat = catalog([onTask("pair", { events: ["create"] })]);
    await start(cat);
    await start(cat);
    const writers = Array.from({ length: 8 }, async (_, w) => {
      for (let i = 0; i < 625; i++) await insertRecord(db.pool, APP, "task", `c${w}-${i}`);
    });
    await Promise.all(writers);
    await waitFor(
      () => countRuns(db.pool, "pair"),
      (n) => n >= 5000,
      30_000,
    );
    await new Promise((r) => setTimeout(r, 500));
    const { rows } = await db.pool.query(
      "SELECT count(*)::int AS n, count(DISTINCT event->'record'->>'_id')::int AS d FROM skyflow.runs WHERE workflow = 'pair'",
    );
    expect(rows[0]).toEqual({ n: 5000, d: 5000 });
    const left = await db.pool.query("SELECT count(*)::int AS n FROM skyflow.record_outbox");
    expect(left.rows[0].n).toBe(0);
  });

  it("loses and doubles no change when the database drops the trigger drivers' connections while they work", async () => {
    // The drivers get their own pool, so that only their connections are cut (the writers' are not).
    const drivers = createPool(db.url, { max: 10, applicationName: "skyflow-blip" });
    const cat = catalog([onTask("blip", { events: ["create"] })]);
    const opts = { pool: drivers, catalog: cat, appSchema: APP, wake: () => {}, log: silentLogger() };
    running.push(await startTriggers(opts), await startTriggers(opts));
    const cutter = cutConnectionsEvery(db.pool, ["skyflow-blip", "skyflow-listen"], 150);
    let cuts: number;
    try {
      const writers = Array.from({ length: 4 }, async (_, w) => {
        for (let i = 0; i < 750; i++) await insertRecord(db.pool, APP, "task", `blip${w}-${i}`);
      });
      await Promise.all(writers);
    } finally {
      cuts = await cutter.stop();
    }
    expect(cuts).toBeGreaterThan(0);
    await waitFor(
      () => countRuns(db.pool, "blip"),
      (n) => n >= 3000,
      30_000,
    );
    await new Promise((r) => setTimeout(r, 500));
    const { rows } = await db.pool.query(
      "SELECT count(*)::int AS n, count(DISTINCT event->'record'->>'_id')::int AS d FROM skyflow.runs WHERE workflow = 'blip'",
    );
    expect(rows[0]).toEqual({ n: 3000, d: 3000 });
    await stopAll();
    await drivers.end();
  });

  it("counts the changes waiting exactly while few, and by their ids' span past 1,000, read from the key's ends", async () => {
    const S = "app_depth";
    const add = (n: number) =>
      db.pool.query(
        `INSERT INTO skyflow.record_outbox (op, schema_name, record_type, record_key, database_id, txid, at)
         SELECT 'insert', $1, 't', 'k' || i, '', 1, now() FROM generate_series(1, $2::int) i`,
        [S, n],
      );
    expect(await outboxDepth(db.pool, S)).toBe(0);
    await add(10);
    // Gaps inside a short span (claims out of order, rolled-back writes) are counted out.
    await db.pool.query(
      "DELETE FROM skyflow.record_outbox WHERE id IN (SELECT id FROM skyflow.record_outbox WHERE schema_name = $1 ORDER BY id OFFSET 3 LIMIT 4)",
      [S],
    );
    expect(await outboxDepth(db.pool, S)).toBe(6);
    await add(3000);
    expect(await outboxDepth(db.pool, S)).toBe(3006 + 4);
    await db.pool.query("DELETE FROM skyflow.record_outbox WHERE schema_name = $1", [S]);
  });

  it("notifies once per transaction, and only while the wake flag is armed", async () => {
    // No engine runs here: the test arms the flag itself and counts what a listener receives.
    await db.pool.query("SELECT skyflow.attach_record_trigger($1, 'task')", [APP]);
    const listener = new pg.Client({ connectionString: db.url });
    await listener.connect();
    let got = 0;
    listener.on("notification", () => got++);
    await listener.query("LISTEN skyflow_record");
    const writeMany = async (prefix: string) => {
      const c = await db.pool.connect();
      try {
        await c.query("BEGIN");
        for (let i = 0; i < 20; i++) await insertRecord(c, APP, "task", `${prefix}-${i}`);
        await c.query("COMMIT");
      } finally {
        c.release();
      }
    };
    try {
      await db.pool.query("SELECT skyflow.set_record_wake(true)");
      await writeMany("armed");
      await db.pool.query("SELECT skyflow.set_record_wake(false)");
      await writeMany("disarmed");
      // A round trip on the listener's own connection delivers anything already sent to it.
      await new Promise((r) => setTimeout(r, 100));
      await listener.query("SELECT 1");
      expect(got).toBe(1);
      const { rows } = await db.pool.query(
        "SELECT count(*)::int AS n FROM skyflow.record_outbox WHERE record_key LIKE 'armed-%' OR record_key LIKE 'disarmed-%'",
      );
      expect(rows[0].n).toBe(40);
    } finally {
      await listener.end();
      await db.pool.query("DELETE FROM skyflow.record_outbox");
      await db.pool.query("SELECT skyflow.set_record_wake(true)");
    }
  });

  it("raises the wake flag and lists the writers in flight that may have read it down, in one round trip", async () => {
    await db.pool.query("SELECT skyflow.attach_record_trigger($1, 'task')", [APP]);
    await db.pool.query("SELECT skyflow.set_record_wake(false)");
    const writer = await db.pool.connect();
    const listen = new pg.Client({ connectionString: db.url });
    await listen.connect();
    try {
      // A writer that read the flag down and has not committed: it notified nobody.
      await writer.query("BEGIN");
      await insertRecord(writer, APP, "task", "in-flight");
      const { rows } = await writer.query<{ x: string }>("SELECT txid_current()::text AS x");
      const first = await raiseArmed(listen);
      expect(first.raised).toBe(true);
      expect(first.xids).toContain(rows[0]!.x);
      expect((await db.pool.query("SELECT armed FROM skyflow.record_wake WHERE id = 1")).rows[0].armed).toBe(
        true,
      );
      // Already up: nothing raised (the caller then leaves the writers to whoever raised it).
      expect((await raiseArmed(listen)).raised).toBe(false);
      await writer.query("COMMIT");
      expect((await raiseArmed(listen)).xids).not.toContain(rows[0]!.x);
    } finally {
      await writer.query("ROLLBACK").catch(() => {});
      writer.release();
      await listen.end();
      await db.pool.query("DELETE FROM skyflow.record_outbox");
      await db.pool.query("SELECT skyflow.set_record_wake(true)");
    }
  });

  it("claims a writer that read the wake flag down while an earlier raise still watches a long transaction", async () => {
    const cat = catalog([onTask("on_task_in_flight", { events: ["create"] })]);
    await db.pool.query("SELECT skyflow.attach_record_trigger($1, 'task')", [APP]);
    // Another session's long transaction: in every snapshot's list of transactions in flight until it ends.
    const long = await db.pool.connect();
    const writer = await db.pool.connect();
    const flagUp = () =>
      waitFor(
        async () => (await db.pool.query("SELECT armed FROM skyflow.record_wake WHERE id = 1")).rows[0].armed,
        (armed) => armed === true,
      );
    const created = (key: string) =>
      waitFor(
        () => runsOf(db.pool, "on_task_in_flight"),
        (r) => r.some((x) => (x.event as { record: { _id: string } }).record._id === `task/${key}`),
      );
    try {
      await long.query("BEGIN");
      await long.query("SELECT txid_current()");
      // A writer that read the flag down: it notifies nobody, and is in flight when the driver raises the flag
      // as it starts. Only watching it finds its change (the poll is 10 minutes away).
      await db.pool.query("SELECT skyflow.set_record_wake(false)");
      await writer.query("BEGIN");
      await insertRecord(writer, APP, "task", "first-in-flight");
      running.push(
        await startTriggers({
          pool: db.pool,
          catalog: cat,
          appSchema: APP,
          wake: () => {},
          log: silentLogger(),
          pollMs: 600_000,
        }),
      );
      await flagUp();
      await writer.query("COMMIT");
      await created("first-in-flight");
      // The long transaction is still watched. A second writer reads the flag down, and the driver raises it
      // again (a LISTEN reconnect does, as the poll would): this writer joins the watch.
      await db.pool.query("SELECT skyflow.set_record_wake(false)");
      await writer.query("BEGIN");
      await insertRecord(writer, APP, "task", "second-in-flight");
      expect(await terminateBackends(db.pool, ["skyflow-listen"])).toBe(1);
      await flagUp();
      await writer.query("COMMIT");
      await created("second-in-flight");
    } finally {
      await writer.query("ROLLBACK").catch(() => {});
      await long.query("ROLLBACK").catch(() => {});
      writer.release();
      long.release();
      await stopAll();
      await db.pool.query("DELETE FROM skyflow.record_outbox");
      await db.pool.query("SELECT skyflow.set_record_wake(true)");
    }
  });

  it("reads which tables carry the trigger (each second) with a prepared statement, planned once after the first five", async () => {
    const one = createPool(db.url, { max: 1 });
    try {
      for (let i = 0; i < 7; i++) await triggerState(one, APP, ["task", "nothing_here"]);
      const { rows } = await one.query(
        "SELECT generic_plans::int AS generic, custom_plans::int AS custom FROM pg_prepared_statements WHERE name = 'skyflow_trigger_state'",
      );
      // Postgres plans the first five executions with their values, and settles on a generic plan after.
      expect(rows).toEqual([{ generic: 2, custom: 5 }]);
    } finally {
      await one.end();
    }
  });

  it("attaches a table created after start and removes a trigger no workflow needs", async () => {
    const cat = catalog([
      workflow("late", [{ kind: "record", type: "note", database: "_any", events: ["create"] }]),
    ]);
    await start(cat);
    // Created and written in one transaction, as Skygear does on a record type's first save.
    const c = await db.pool.connect();
    await c.query("BEGIN");
    await c.query(`CREATE TABLE ${APP}.note (LIKE ${APP}.task INCLUDING ALL)`);
    await insertRecord(c, APP, "note", "n1", { title: "first" });
    await c.query("COMMIT");
    c.release();
    await waitFor(
      () => countRuns(db.pool, "late"),
      (n) => n === 1,
    );
    expect(await countRuns(db.pool, "late")).toBe(1);
    const has = async () =>
      (
        await db.pool.query(
          "SELECT count(*)::int AS n FROM pg_trigger WHERE tgname = 'skyflow_record_change' AND tgrelid = $1::regclass",
          [`${APP}.note`],
        )
      ).rows[0].n;
    expect(await has()).toBe(1);
    cat.set([]);
    expect(await waitFor(has, (n) => n === 0)).toBe(0);
  });

  it("without an event trigger, replays a brand-new table's rows written before the poll attached it, and no older table's", async () => {
    const cat = catalog([
      workflow("fresh", [{ kind: "record", type: "memo", database: "_any", events: ["create"] }]),
      workflow("old_users", [{ kind: "record", type: "user", database: "_any", events: ["create"] }]),
    ]);
    await start(cat);
    // As when skyflow may not create event triggers (no superuser): only the poll attaches new tables.
    await db.pool.query("DROP EVENT TRIGGER skyflow_create_table");
    try {
      const c = await db.pool.connect();
      await c.query("BEGIN");
      await c.query(`CREATE TABLE ${APP}.memo (LIKE ${APP}.task INCLUDING ALL)`);
      for (const k of ["m1", "m2", "m3"]) await insertRecord(c, APP, "memo", k, { title: k });
      await c.query("COMMIT");
      c.release();
      await insertRecord(db.pool, APP, "memo", "m4");
      await waitFor(
        () => countRuns(db.pool, "fresh"),
        (n) => n >= 4,
        5_000,
      );
      // Attached now: a later record is seen by the trigger itself.
      await insertRecord(db.pool, APP, "memo", "m5");
      await waitFor(
        () => countRuns(db.pool, "fresh"),
        (n) => n >= 5,
        5_000,
      );
      await new Promise((r) => setTimeout(r, 300));
      const runs = await runsOf(db.pool, "fresh");
      expect(runs.map((r) => (r.event as { record: { _id: string } }).record._id).sort()).toEqual([
        "memo/m1",
        "memo/m2",
        "memo/m3",
        "memo/m4",
        "memo/m5",
      ]);
      expect(runs.every((r) => (r.event as { op: string }).op === "create")).toBe(true);
      // `user` existed (with alice) before anything watched it: its rows are not replayed.
      expect(await countRuns(db.pool, "old_users")).toBe(0);
    } finally {
      await stopAll();
      await db.pool.query(`DROP TABLE ${APP}.memo`);
    }
  });
});
