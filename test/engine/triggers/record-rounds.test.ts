// Record trigger, when it claims in rounds (wake flag down, a pause before each claim) and when on NOTIFYs:
// changes at a low rate, bursts of a few among them, are claimed as they notify. Real Postgres; the wake
// flag's every change is logged by a test wrapper around skyflow.set_record_wake.
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { RecordDriver } from "../../../src/engine/triggers/record/drive.js";
import { startRecordDriver } from "../../../src/engine/triggers/record/drive.js";
import { silentLogger } from "../../../src/log.js";
import { createTestDatabase, type TestDatabase } from "../../helpers/db.js";
import { catalog, countRuns, createRecordTable, insertRecord, waitFor, workflow } from "./helpers.js";

const APP = "app_rounds";
/** Long enough that a round's pause shows as seconds; the default pauses are 5-20 ms. */
const PAUSE_MS = 2_000;
let db: TestDatabase;
let driver: RecordDriver | undefined;

const cat = catalog([
  workflow("on_task_rounds", [{ kind: "record", type: "task", database: "_public", events: ["create"] }]),
]);

async function start(pollMs = 600_000, busyWindowMs?: number): Promise<void> {
  driver = await startRecordDriver({
    pool: db.pool,
    catalog: cat,
    appSchema: APP,
    wake: () => {},
    log: silentLogger(),
    clock: () => new Date(),
    env: {},
    loopDepth: 5,
    pollMs,
    roundPauseMs: PAUSE_MS,
    ...(busyWindowMs === undefined ? {} : { busyWindowMs }),
  });
  await flagIs(true);
}

const flagIs = (armed: boolean) =>
  waitFor(
    async () => (await db.pool.query("SELECT armed FROM skyflow.record_wake WHERE id = 1")).rows[0].armed,
    (a) => a === armed,
  );

/**
 * `n` transactions of two changes each (one NOTIFY, and one claim brings both), committed together: Postgres
 * commits notifying transactions one at a time, so NOTIFYs come while the claim of the one before is out.
 */
async function burst(key: string, n: number): Promise<void> {
  const cs = await Promise.all(Array.from({ length: n }, () => db.pool.connect()));
  try {
    for (const [i, c] of cs.entries()) {
      await c.query("BEGIN");
      await insertRecord(c, APP, "task", `${key}-${i}-a`);
      await insertRecord(c, APP, "task", `${key}-${i}-b`);
    }
    await Promise.all(cs.map((c) => c.query("COMMIT")));
  } finally {
    for (const c of cs) c.release();
  }
}

/** How many times the wake flag went down since the log was emptied. */
const lowered = async () =>
  (await db.pool.query<{ n: number }>("SELECT count(*)::int AS n FROM wake_log WHERE NOT armed")).rows[0]!.n;

beforeAll(async () => {
  db = await createTestDatabase("triggers_rounds");
  await createRecordTable(db.pool, APP, "task", "ADD COLUMN title text");
  await db.pool.query(`
    CREATE TABLE wake_log (armed boolean NOT NULL, at timestamptz NOT NULL DEFAULT clock_timestamp());
    ALTER FUNCTION skyflow.set_record_wake(boolean) RENAME TO set_record_wake_unlogged;
    CREATE FUNCTION skyflow.set_record_wake(armed boolean) RETURNS boolean LANGUAGE plpgsql AS $$
      BEGIN
        IF skyflow.set_record_wake_unlogged(armed) THEN
          INSERT INTO public.wake_log (armed) VALUES (armed);
          RETURN true;
        END IF;
        RETURN false;
      END $$;`);
});
afterEach(async () => {
  await driver?.stop();
  driver = undefined;
  await db.pool.query("TRUNCATE skyflow.runs CASCADE");
  await db.pool.query("TRUNCATE skyflow.record_outbox, wake_log");
  await db.pool.query("SELECT skyflow.set_record_wake(true)");
});
afterAll(async () => {
  await db.drop();
});

describe("record trigger rounds", () => {
  it("claims bursts of a few changes on their NOTIFYs, the wake flag up and no round's pause", async () => {
    await start();
    await db.pool.query("TRUNCATE wake_log");
    for (let i = 0; i < 5; i++) {
      const t0 = Date.now();
      // Six changes: fewer than BUSY_ROWS, a burst and no load.
      await burst(`b${i}`, 3);
      await waitFor(
        () => countRuns(db.pool, "on_task_rounds"),
        (n) => n === 6 * (i + 1),
      );
      // In rounds the last ones would have waited for a round's pause.
      expect(Date.now() - t0).toBeLessThan(PAUSE_MS / 2);
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(await lowered()).toBe(0);
  });

  it("under load (8 writers one change a transaction), lowers the wake flag and claims in rounds", async () => {
    // The rule, not this machine's speed: on a loaded machine (CI) 8 writers may not commit 8 changes within
    // the daemon's 40 ms, so the window is wide here. Each wave commits 8 transactions of one change together:
    // Postgres commits notifying transactions one at a time, so NOTIFYs come while a claim is out.
    await start(600_000, 5_000);
    await db.pool.query("TRUNCATE wake_log");
    const cs = await Promise.all(Array.from({ length: 8 }, () => db.pool.connect()));
    let n = 0;
    try {
      for (let wave = 0; wave < 5; wave++) {
        for (const [w, c] of cs.entries()) {
          await c.query("BEGIN");
          await insertRecord(c, APP, "task", `load-${wave}-${w}`);
          n++;
        }
        await Promise.all(cs.map((c) => c.query("COMMIT")));
      }
    } finally {
      for (const c of cs) c.release();
    }
    await waitFor(
      () => countRuns(db.pool, "on_task_rounds"),
      (c) => c === n,
      PAUSE_MS * 5,
    );
    expect(await lowered()).toBeGreaterThan(0);
  });

  it("after a poll that found a change, claims the next one on its NOTIFY, not after a round's pause", async () => {
    await start(200);
    // A writer that saw the flag down: its change waits for the poll. The flag is up again for the next one.
    await db.pool.query("SELECT skyflow.set_record_wake(false)");
    await insertRecord(db.pool, APP, "task", "quiet");
    await db.pool.query("SELECT skyflow.set_record_wake(true)");
    await waitFor(
      () => countRuns(db.pool, "on_task_rounds"),
      (n) => n === 1,
    );
    const t0 = Date.now();
    await insertRecord(db.pool, APP, "task", "notified");
    await waitFor(
      () => countRuns(db.pool, "on_task_rounds"),
      (n) => n === 2,
    );
    expect(Date.now() - t0).toBeLessThan(PAUSE_MS / 2);
  });
});
