// Cron trigger against real Postgres: one fire per time across two engines, catch_up after downtime, overlap.
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createPool } from "../../../src/db/pool.js";
import { type Clock, ManualClock } from "../../../src/engine/clock.js";
import type { TriggerDefinition } from "../../../src/engine/definition/types.js";
import { startTriggers, type Triggers } from "../../../src/engine/triggers/index.js";
import { silentLogger } from "../../../src/log.js";
import { createTestDatabase, cutConnectionsEvery, type TestDatabase } from "../../helpers/db.js";
import { catalog, runsOf, waitFor, workflow } from "./helpers.js";

let db: TestDatabase;
const running: Triggers[] = [];

async function start(cat: ReturnType<typeof catalog>, clock?: Clock, owner?: string): Promise<Triggers> {
  const t = await startTriggers({
    pool: db.pool,
    catalog: cat,
    appSchema: "app_cron",
    wake: () => {},
    log: silentLogger(),
    // On a manual clock, a driver sleeps until its next fire rather than for at most 5 s at a time.
    ...(clock ? { clock, cronMaxSleepMs: 366 * 86_400_000 } : {}),
    ...(owner ? { owner } : {}),
  });
  running.push(t);
  return t;
}
const stopAll = async () => {
  await Promise.all(running.splice(0).map((t) => t.stop()));
};

beforeAll(async () => {
  db = await createTestDatabase("triggers_cron");
});
afterEach(stopAll);
afterAll(async () => {
  await stopAll();
  await db.drop();
});

const cron = (
  schedule: string,
  extra: Partial<Extract<TriggerDefinition, { kind: "cron" }>> = {},
): TriggerDefinition => ({
  kind: "cron",
  schedule,
  timezone: "UTC",
  catchUp: "none",
  overlap: "allow",
  ...extra,
});

async function fires(wf: string) {
  const { rows } = await db.pool.query<{
    scheduled_at: Date;
    outcome: string;
    fired_by: string;
    run_id: string | null;
  }>(
    "SELECT scheduled_at, outcome, fired_by, run_id FROM skyflow.cron_fires WHERE workflow = $1 ORDER BY scheduled_at",
    [wf],
  );
  return rows;
}

describe("cron trigger", () => {
  it("fires a per-second schedule in a non-UTC timezone once per second across two engines", async () => {
    const clock = new ManualClock(Date.parse("2026-03-01T10:00:00.500Z"));
    const cat = catalog([workflow("tick", [cron("* * * * * *", { timezone: "America/St_Johns" })])]);
    await start(cat, clock, "engine-a");
    await start(cat, clock, "engine-b");
    for (let n = 1; n <= 3; n++) {
      // Both drivers asleep on the clock (a driver ticking has no timer): the next second fires once.
      await waitFor(
        () => fires("tick"),
        (f) => clock.pending() === 2 && f.length === n - 1,
      );
      clock.advance(1000);
    }
    await waitFor(
      () => fires("tick"),
      (f) => clock.pending() === 2 && f.length === 3,
    );
    await stopAll();
    const f = await fires("tick");
    expect(f.map((x) => new Date(x.scheduled_at).toISOString())).toEqual([
      "2026-03-01T10:00:01.000Z",
      "2026-03-01T10:00:02.000Z",
      "2026-03-01T10:00:03.000Z",
    ]);
    const times = f.map((x) => new Date(x.scheduled_at).getTime());
    for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!).toBe(1000);
    const runs = await runsOf(db.pool, "tick");
    expect(runs).toHaveLength(f.length);
    expect(new Set(runs.map((r) => r.event_id)).size).toBe(f.length);
    expect(f.map((x) => x.run_id).sort()).toEqual(runs.map((r) => r.id).sort());
    expect(runs.map((r) => r.event_id).sort()).toEqual(
      f.map((x) => `tick@${new Date(x.scheduled_at).toISOString()}`).sort(),
    );
    expect(runs[0]!.event).toMatchObject({
      type: "cron",
      schedule: "* * * * * *",
      timezone: "America/St_Johns",
    });
  });

  it("fires no time twice when the database keeps dropping the drivers' connections", async () => {
    // The drivers get their own pool, so that only their connections are cut.
    const drivers = createPool(db.url, { max: 6, applicationName: "skyflow-cronblip" });
    const names = ["cb1", "cb2", "cb3", "cb4"];
    const cat = catalog(names.map((n) => workflow(n, [cron("* * * * * *")])));
    const opts = { pool: drivers, catalog: cat, appSchema: "app_cron", wake: () => {}, log: silentLogger() };
    running.push(
      await startTriggers({ ...opts, owner: "blip-a" }),
      await startTriggers({ ...opts, owner: "blip-b" }),
    );
    const cutter = cutConnectionsEvery(db.pool, ["skyflow-cronblip", "skyflow-listen"], 250);
    await new Promise((r) => setTimeout(r, 4_200));
    const cuts = await cutter.stop();
    await stopAll();
    await drivers.end();
    expect(cuts).toBeGreaterThan(0);
    for (const n of names) {
      const f = await fires(n);
      // Some seconds may be missed while no connection lived (catch_up none); none may fire twice.
      expect(f.length).toBeGreaterThanOrEqual(1);
      expect(new Set(f.map((x) => x.scheduled_at.getTime())).size).toBe(f.length);
      const runs = await runsOf(db.pool, n);
      expect(runs).toHaveLength(f.length);
      expect(f.map((x) => x.run_id).sort()).toEqual(runs.map((r) => r.id).sort());
    }
  });

  it("catch_up last fires the most recent missed time once after a downtime", async () => {
    const clock = new ManualClock(Date.parse("2026-03-01T10:00:00Z"));
    // Asia/Kolkata is UTC+5:30, so "0 * * * *" there fires at :30 UTC.
    const cat = catalog([
      workflow("hourly_last", [cron("0 * * * *", { timezone: "Asia/Kolkata", catchUp: "last" })]),
    ]);
    await start(cat, clock);
    await stopAll();
    expect(await fires("hourly_last")).toHaveLength(0);
    clock.advance(Date.parse("2026-03-01T13:45:00Z") - clock.now());
    await start(cat, clock);
    clock.advance(0); // the missed fire is due now
    // Asleep again (its timer set for the next fire), so done with what was due.
    const f = await waitFor(
      () => fires("hourly_last"),
      (x) => x.length > 0 && clock.nextAt() === Date.parse("2026-03-01T14:30:00Z"),
    );
    expect(f).toHaveLength(1);
    expect(new Date(f[0]!.scheduled_at).toISOString()).toBe("2026-03-01T13:30:00.000Z");
    const runs = await runsOf(db.pool, "hourly_last");
    expect(runs.map((r) => r.event_id)).toEqual(["hourly_last@2026-03-01T13:30:00.000Z"]);
    const { rows } = await db.pool.query(
      "SELECT next_at FROM skyflow.cron_schedules WHERE workflow = 'hourly_last'",
    );
    expect(new Date(rows[0].next_at).toISOString()).toBe("2026-03-01T14:30:00.000Z");
  });

  it("catch_up none skips the missed times and all fires each of them", async () => {
    const clock = new ManualClock(Date.parse("2026-03-01T10:00:00Z"));
    const cat = catalog([
      workflow("h_none", [cron("0 * * * *", { catchUp: "none" })]),
      workflow("h_all", [cron("0 * * * *", { catchUp: "all" })]),
    ]);
    await start(cat, clock);
    await stopAll();
    clock.advance(Date.parse("2026-03-01T13:45:00Z") - clock.now());
    await start(cat, clock);
    clock.advance(0);
    await waitFor(
      () => fires("h_all"),
      (x) => x.length >= 3 && clock.nextAt() === Date.parse("2026-03-01T14:00:00Z"),
    );
    expect((await fires("h_all")).map((x) => new Date(x.scheduled_at).getUTCHours())).toEqual([11, 12, 13]);
    expect(await fires("h_none")).toHaveLength(0);
  });

  it("overlap skip records the fire but starts no run while the previous one is pending", async () => {
    const clock = new ManualClock(Date.parse("2026-03-01T10:00:30Z"));
    const cat = catalog([
      workflow("ov_skip", [cron("* * * * *", { overlap: "skip" })]),
      workflow("ov_allow", [cron("* * * * *", { overlap: "allow" })]),
    ]);
    await start(cat, clock);
    clock.advance(30_000);
    await waitFor(
      () => runsOf(db.pool, "ov_skip"),
      (r) => r.length === 1 && clock.nextAt() === Date.parse("2026-03-01T10:02:00Z"),
    );
    clock.advance(60_000);
    await waitFor(
      () => fires("ov_skip"),
      (x) => x.length === 2,
    );
    await waitFor(
      () => runsOf(db.pool, "ov_allow"),
      (r) => r.length === 2,
    );
    expect((await fires("ov_skip")).map((x) => x.outcome)).toEqual(["started", "skipped_overlap"]);
    expect(await runsOf(db.pool, "ov_skip")).toHaveLength(1);
    expect(await runsOf(db.pool, "ov_allow")).toHaveLength(2);
  });

  it("removes the schedule of a workflow that no longer has the cron trigger", async () => {
    const cat = catalog([workflow("gone", [cron("0 0 * * *")])]);
    await start(cat);
    const count = async () =>
      (await db.pool.query("SELECT count(*)::int AS n FROM skyflow.cron_schedules WHERE workflow = 'gone'"))
        .rows[0].n;
    expect(await count()).toBe(1);
    cat.set([]);
    expect(await waitFor(count, (n) => n === 0)).toBe(0);
  });
});
