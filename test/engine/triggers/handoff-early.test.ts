// A run handed to the engine while its trigger's transaction is committing: its first sql step starts at
// once, and its COMMIT waits for the run's row. The trigger's COMMIT is held open here by a deferred
// constraint trigger on skyflow.runs that waits until it sees the step's statement holding its lock.
import { describe, expect, it } from "vitest";
import { createEngine } from "../../../src/engine/engine.js";
import { startTriggers } from "../../../src/engine/triggers/index.js";
import { silentLogger } from "../../../src/log.js";
import { type TestDatabase, useTestDatabase } from "../../helpers/db.js";
import { poolOnlyClients, step } from "../fixtures/defs.js";
import {
  catalog,
  createRecordTable,
  insertRecord,
  useEngineAndTriggers,
  waitFor,
  workflow,
} from "./helpers.js";

const APP = "app_early";
const db = useTestDatabase("triggers_handoff_early", setUp);
const running = useEngineAndTriggers();

async function setUp(db: TestDatabase): Promise<void> {
  await createRecordTable(db.pool, APP, "task", "ADD COLUMN title text");
  await db.pool.query(`CREATE TABLE ${APP}.sink (id serial PRIMARY KEY, title text)`);
  // Sequences: counted whether or not the claim's transaction commits.
  await db.pool.query(`CREATE SEQUENCE ${APP}.saw_step`);
  await db.pool.query(`CREATE SEQUENCE ${APP}.commits`);
  // At the claim's COMMIT: waits (up to 3 s) for another session holding a lock on the sink, which only the
  // step's INSERT takes, and counts it when seen; with `fail_first`, the first COMMIT then fails.
  await db.pool.query(`
    CREATE TABLE ${APP}.opts (fail_first boolean);
    INSERT INTO ${APP}.opts VALUES (false);
    CREATE FUNCTION ${APP}.hold_commit() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      FOR i IN 1..300 LOOP
        IF EXISTS (SELECT 1 FROM pg_locks WHERE relation = '${APP}.sink'::regclass
                   AND pid <> pg_backend_pid() AND granted) THEN
          PERFORM nextval('${APP}.saw_step');
          EXIT;
        END IF;
        PERFORM pg_sleep(0.01);
      END LOOP;
      IF nextval('${APP}.commits') = 1 AND (SELECT fail_first FROM ${APP}.opts) THEN
        RAISE EXCEPTION 'the first claim fails';
      END IF;
      RETURN NULL;
    END $$;
    CREATE CONSTRAINT TRIGGER hold_commit AFTER INSERT ON skyflow.runs DEFERRABLE INITIALLY DEFERRED
      FOR EACH ROW EXECUTE FUNCTION ${APP}.hold_commit();`);
}

const early = {
  ...workflow("early", [{ kind: "record", type: "task", database: "_public", events: ["create"] }]),
  steps: [step("sql", { statement: `INSERT INTO ${APP}.sink (title) VALUES ('done')` })],
};

async function start() {
  const cat = catalog([early]);
  running.engine = createEngine({
    pool: db.pool,
    catalog: cat,
    clients: poolOnlyClients(db.pool),
    log: silentLogger(),
    pollMs: 600_000,
  });
  await running.engine.start();
  running.triggers = await startTriggers({
    pool: db.pool,
    catalog: cat,
    appSchema: APP,
    wake: () => {},
    handoff: running.engine.handoff(),
    log: silentLogger(),
    pollMs: 100,
  });
}

/** How many times the sequence was counted. */
const seq = async (name: string) =>
  Number(
    (
      await db.pool.query<{ n: string }>(
        `SELECT CASE WHEN is_called THEN last_value ELSE 0 END AS n FROM ${APP}.${name}`,
      )
    ).rows[0]!.n,
  );

const finished = () =>
  waitFor(
    async () =>
      (
        await db.pool.query<{ status: string }>("SELECT status FROM skyflow.runs WHERE workflow = 'early'")
      ).rows.map((r) => r.status),
    (v) => v.length === 1 && v[0] === "succeeded",
    20_000,
  );

const sunk = async () =>
  (await db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${APP}.sink`)).rows[0]!.n;

describe("a first sql step started while its run's creation commits", () => {
  it("runs its statement before the trigger's COMMIT is answered, and commits once", async () => {
    await start();
    await insertRecord(db.pool, APP, "task", "t1");
    expect(await finished()).toEqual(["succeeded"]);
    // The trigger's COMMIT saw the step's statement in flight.
    expect(await seq("saw_step")).toBe(1);
    expect(await sunk()).toBe(1);
  });

  it("rolls the step back when the trigger's COMMIT fails, and runs it once when claimed again", async () => {
    await db.pool.query(`TRUNCATE ${APP}.sink; UPDATE ${APP}.opts SET fail_first = true`);
    await db.pool.query("DELETE FROM skyflow.runs WHERE workflow = 'early'");
    await db.pool.query(`SELECT setval('${APP}.saw_step', 1, false), setval('${APP}.commits', 1, false)`);
    await start();
    await insertRecord(db.pool, APP, "task", "t2");
    expect(await finished()).toEqual(["succeeded"]);
    // Both COMMITs saw a step's statement in flight; the first one's rolled back with its claim.
    expect(await seq("saw_step")).toBe(2);
    expect(await seq("commits")).toBe(2);
    expect(await sunk()).toBe(1);
  });
});
