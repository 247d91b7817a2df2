// Due sleeps end in the database (park/waker.ts, skyflow.end_due_sleeps), whatever the engines' capacity, once
// across engines, and a run that crashed after its sleep ended does not sleep again; a released wait_for run
// goes to this process's engine in the release's own statement (start-runs.ts releaseLease). Real engines, real
// Postgres, the record trigger against the Skygear-compatible server.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { poolDb } from "../../../src/db/pool.js";
import { ManualClock } from "../../../src/engine/clock.js";
import { createEngine, type Engine } from "../../../src/engine/engine.js";
import { Waker } from "../../../src/engine/park/waker.js";
import { type ClaimedRun, claimRuns, type RunHandoff } from "../../../src/engine/store/claim.js";
import { startTriggers } from "../../../src/engine/triggers/index.js";
import { capturedLogger } from "../../helpers/log.js";
import { type Harness, startHarness, until } from "./inner-harness.js";

// The step after the sleep records each time it runs.
const NAPPER = `name: napper
on: { call: {} }
steps:
  - id: nap
    sleep: 1500ms
  - id: after
    sql:
      statement: INSERT INTO after_nap (run_id) VALUES ($1)
      params: ["\${{ run.id }}"]
`;
// Its sql step after the sleep blocks on advisory lock 4243 while the test holds it.
const NAPLOCK = `name: naplock
on: { call: {} }
steps:
  - id: nap
    sleep: 1500ms
  - id: locked
    sql: { statement: "SELECT pg_advisory_lock(4243), pg_advisory_unlock(4243)" }
`;
// Holds the engine's only slot until the test releases advisory lock 4242.
const BUSY = `name: busy
on: { call: {} }
steps:
  - sql: { statement: "SELECT pg_advisory_lock(4242), pg_advisory_unlock(4242)" }
`;
// Its last step reads the first's output: a released run gets it with its lease (match.ts releaseTop).
const WAITER = `name: waiter
on: { call: {} }
steps:
  - id: pre
    sql: { statement: "SELECT $1::text AS ref", params: ["\${{ event.input.ref }}"] }
  - id: w
    wait_for:
      record: { type: approval, events: [create] }
      match: \${{ incoming.record.ref == event.input.ref }}
      timeout: 1h
  - id: post
    sql: { statement: "SELECT $1::text AS seen", params: ["\${{ steps.pre.output.rows[0].ref }}"] }
`;

let h: Harness;
let db: Harness["db"];
let srv: Harness["srv"];
let container: Harness["container"];
let catalog: Harness["catalog"];
let clients: Harness["clients"];
const { log } = capturedLogger("warn");

beforeAll(async () => {
  h = await startHarness("park_waker", [NAPPER, NAPLOCK, BUSY, WAITER]);
  ({ db, srv, container, catalog, clients } = h);
  await db.pool.query(`CREATE TABLE ${srv.config.schema}.after_nap (run_id uuid)`);
});
afterAll(() => h?.close());

const engineOf = (o: { owner?: string; maxRuns?: number; claimOnly?: string[] } = {}): Engine =>
  createEngine({ pool: db.pool, catalog, clients, log, pollMs: 200, ...o });

/** Triggers handing released runs to `engine`, recording what they hand over; `reserve` as the engine's unless given. */
const recordingTriggers = async (engine: Engine, reserve?: RunHandoff["reserve"]) => {
  const real = engine.handoff();
  const adopted: ClaimedRun[] = [];
  const handoff: RunHandoff = {
    owner: real.owner,
    leaseMs: real.leaseMs,
    reserve: reserve ?? ((n) => real.reserve(n)),
    adopt: (runs, reserved, at) => {
      adopted.push(...runs);
      real.adopt(runs, reserved, at);
    },
  };
  const triggers = await startTriggers({
    pool: db.pool,
    catalog,
    appSchema: srv.config.schema,
    wake: () => engine.wake(),
    handoff,
    log,
    pollMs: 200,
  });
  return { adopted, triggers };
};

const runRow = async (id: string) =>
  (
    await db.pool.query(
      "SELECT status, lease_owner, wait, wake, claims, available_at FROM skyflow.runs WHERE id = $1",
      [id],
    )
  ).rows[0];

/** The run's tries of `step`, oldest first. */
const tries = async (id: string, step: string) =>
  (
    await db.pool.query(
      "SELECT attempt, status, output, finished_at FROM skyflow.step_tries WHERE run_id = $1 AND step_key = $2 ORDER BY attempt",
      [id, step],
    )
  ).rows;

const afterCounts = async (ids: string[]) =>
  (
    await db.pool.query<{ run_id: string; n: number }>(
      `SELECT run_id, count(*)::int AS n FROM ${srv.config.schema}.after_nap WHERE run_id = ANY($1) GROUP BY 1`,
      [ids],
    )
  ).rows;

async function parkNappers(engine: Engine, n: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++)
    ids.push((await engine.trigger("napper", { type: "call", input: {} } as never)).runId);
  for (const id of ids)
    await until(
      () => runRow(id),
      (r) => r?.status === "sleeping",
    );
  return ids;
}

describe("the waker", () => {
  it("keeps one timer on the injected clock, for the earliest due time, and wakes the engine from it", async () => {
    const clock = new ManualClock();
    let woken = 0;
    const waker = new Waker({ db: db.pool, log, onDue: () => woken++, horizonMs: 10_000, clock });
    waker.start();
    try {
      waker.dueIn(5000);
      waker.dueIn(8000);
      waker.dueIn(1000);
      waker.dueIn(60_000); // past the horizon: the engine's poll finds it
      expect(clock.pending()).toBe(1);
      // Set early by AHEAD_MS: the database waits out the rest of a sleep.
      expect(clock.nextAt()).toBe(clock.now() + 950);
      clock.advance(949);
      expect(woken).toBe(0);
      clock.advance(1);
      await until(
        async () => woken,
        (n) => n === 1,
      );
    } finally {
      await waker.stop();
    }
    expect(clock.pending()).toBe(0);
  });

  it("ends due sleeps in the database while the engine has no room to take the runs", async () => {
    const engine = engineOf({ maxRuns: 1 });
    await engine.start();
    const hold = await db.pool.connect();
    try {
      const ids = await parkNappers(engine, 3);
      // The only slot: a run blocked on the test's lock.
      await hold.query("SELECT pg_advisory_lock(4242)");
      const busy = (await engine.trigger("busy", { type: "call", input: {} } as never)).runId;
      await until(
        () => runRow(busy),
        (r) => r?.status === "running",
      );
      // Each sleep ends (its try succeeded, the run woken: still 'sleeping', its end kept for the claim) with no
      // engine free.
      for (const id of ids) {
        const nap = await until(
          () => tries(id, "nap"),
          (t) => t[0]?.status === "succeeded",
        );
        expect(nap).toHaveLength(1);
        expect((nap[0].output as { slept_ms: number }).slept_ms).toBeGreaterThanOrEqual(1500);
        const r = await runRow(id);
        expect(r).toMatchObject({ status: "sleeping", lease_owner: null });
        expect(r.wake).toMatchObject({ slept: nap[0].output });
      }
      expect(engine.inFlight()).toBe(1);
      expect((await runRow(busy)).status).toBe("running");
      expect(await afterCounts(ids)).toEqual([]);
      // Room again: each run goes on to its next step, with the sleep's one try as it was recorded.
      await hold.query("SELECT pg_advisory_unlock(4242)");
      for (const id of ids) {
        const run = await engine.waitForRun(id, 30_000);
        expect(run.status).toBe("succeeded");
        const nap = run.tries.filter((t) => t.stepKey === "nap");
        expect(nap).toHaveLength(1);
        expect(nap[0]!.output).toEqual((await tries(id, "nap"))[0].output);
      }
      expect((await afterCounts(ids)).map((r) => r.n)).toEqual([1, 1, 1]);
    } finally {
      hold.release();
      await engine.stop({ graceMs: 0 });
    }
  }, 60_000);

  it("ends each sleep once with two engines, and each run goes on once", async () => {
    const a = engineOf({ owner: "first" });
    const b = engineOf({ owner: "second" });
    await a.start();
    await b.start();
    try {
      const ids = await parkNappers(a, 20);
      for (const id of ids) expect((await a.waitForRun(id, 30_000)).status).toBe("succeeded");
      for (const id of ids) {
        const nap = await tries(id, "nap");
        expect(nap.map((t) => t.status)).toEqual(["succeeded"]);
      }
      const counts = await afterCounts(ids);
      expect(counts).toHaveLength(20);
      expect(counts.every((r) => r.n === 1)).toBe(true);
    } finally {
      await a.stop({ graceMs: 0 });
      await b.stop({ graceMs: 0 });
    }
  }, 60_000);

  it("two rounds at once end each due sleep once", async () => {
    const a = engineOf();
    await a.start();
    let ids: string[];
    try {
      ids = await parkNappers(a, 30);
    } finally {
      await a.stop({ graceMs: 0 });
    }
    // No engine now: all due at once, ended by two concurrent rounds.
    await db.pool.query("UPDATE skyflow.runs SET available_at = now() WHERE id = ANY($1)", [ids]);
    const call = () => db.pool.query("CALL skyflow.end_due_sleeps(0, 1000, 7)");
    await Promise.all([call(), call()]);
    const { rows } = await db.pool.query(
      `SELECT r.status, count(t.*)::int AS tries, count(*) FILTER (WHERE t.status = 'succeeded')::int AS ok
       FROM skyflow.runs r JOIN skyflow.step_tries t ON t.run_id = r.id AND t.step_key = 'nap'
       WHERE r.id = ANY($1) GROUP BY r.id, r.status`,
      [ids],
    );
    expect(rows).toHaveLength(30);
    expect(rows.every((r) => r.status === "sleeping" && r.tries === 1 && r.ok === 1)).toBe(true);
    const b = engineOf();
    await b.start();
    try {
      for (const id of ids) expect((await b.waitForRun(id, 30_000)).status).toBe("succeeded");
      expect((await afterCounts(ids)).every((r) => r.n === 1)).toBe(true);
    } finally {
      await b.stop({ graceMs: 0 });
    }
  }, 60_000);

  it("a woken sleep is claimed at once, before the claim's grace for sleeps not ended", async () => {
    const a = engineOf();
    await a.start();
    let woken: string;
    try {
      [woken] = (await parkNappers(a, 1)) as [string];
    } finally {
      await a.stop({ graceMs: 0 });
    }
    await db.pool.query("UPDATE skyflow.runs SET available_at = now() WHERE id = $1", [woken]);
    await db.pool.query("CALL skyflow.end_due_sleeps(0, 1000, 100)");
    // Woken in a HOT update: still 'sleeping', its sleep's end in `wake`.
    expect(await runRow(woken)).toMatchObject({ status: "sleeping", lease_owner: null });
    const claimed = await claimRuns(poolDb(db.pool), {
      owner: "probe",
      leaseMs: 30_000,
      limit: 10,
      limited: [],
      only: [woken],
    });
    expect(claimed.map((r) => r.id)).toEqual([woken]);
    expect(claimed[0]!.wake).toMatchObject({ slept: (await tries(woken, "nap"))[0].output });
    expect(await runRow(woken)).toMatchObject({ status: "running", lease_owner: "probe", wake: null });
    // Given back to the queue as a claim's crash would leave it, for the next test's engines.
    await db.pool.query("UPDATE skyflow.runs SET lease_until = now() - interval '1 second' WHERE id = $1", [
      woken,
    ]);
  }, 60_000);

  it("a round ends sleeps that fell due long before it (a waker fallen behind)", async () => {
    const a = engineOf();
    await a.start();
    let ids: string[];
    try {
      ids = await parkNappers(a, 2);
    } finally {
      await a.stop({ graceMs: 0 });
    }
    // Due five seconds ago (no engine: no claim took them after its grace), and one second ago.
    await db.pool.query(
      "UPDATE skyflow.runs SET available_at = now() - make_interval(secs => 5 - 4 * (id = $2)::int) WHERE id = ANY($1)",
      [ids, ids[1]],
    );
    await db.pool.query("CALL skyflow.end_due_sleeps(0, 1000, 1)");
    for (const id of ids) {
      expect(await runRow(id)).toMatchObject({ status: "sleeping" });
      expect((await runRow(id)).wake).toMatchObject({ slept: { slept_ms: expect.any(Number) } });
      expect((await tries(id, "nap")).map((t) => t.status)).toEqual(["succeeded"]);
    }
    const b = engineOf();
    await b.start();
    try {
      for (const id of ids) expect((await b.waitForRun(id, 30_000)).status).toBe("succeeded");
      expect((await afterCounts(ids)).every((r) => r.n === 1)).toBe(true);
    } finally {
      await b.stop({ graceMs: 0 });
    }
  }, 60_000);

  it("a woken sleep's next sql try is written by its COMMIT, with no save of its begin before it", async () => {
    const engine = engineOf();
    await engine.start();
    const hold = await db.pool.connect();
    try {
      await hold.query("SELECT pg_advisory_lock(4243)");
      const id = (await engine.trigger("naplock", { type: "call", input: {} } as never)).runId;
      await until(
        () => runRow(id),
        (r) => r?.status === "sleeping",
      );
      // Woken and claimed, its sql step waits for the lock.
      await until(
        async () =>
          (
            await db.pool.query(
              "SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND objid = 4243 AND NOT granted",
            )
          ).rows[0].n,
        (n) => n === 1,
      );
      // Nothing saved since the claim: no row of the sql try, the state still at the sleep (a crash here
      // resumes the run at the sleep, which ends at once with its stored end: the test below).
      expect(await tries(id, "locked")).toEqual([]);
      const { rows } = await db.pool.query("SELECT snapshot FROM skyflow.runs WHERE id = $1", [id]);
      expect(rows[0].snapshot.steps.nap.status).toBe("running");
      expect(rows[0].snapshot.steps.locked).toBeUndefined();
      await hold.query("SELECT pg_advisory_unlock(4243)");
      const run = await engine.waitForRun(id, 20_000);
      expect(run.status).toBe("succeeded");
      expect(run.tries.map((t) => [t.stepKey, t.attempt, t.status])).toEqual([
        ["nap", 1, "succeeded"],
        ["locked", 1, "succeeded"],
      ]);
    } finally {
      await hold.query("SELECT pg_advisory_unlock_all()");
      hold.release();
      await engine.stop({ graceMs: 0 });
    }
  }, 60_000);

  it("a run claimed after its sleep ended and lost with its engine does not sleep again", async () => {
    const a = engineOf();
    await a.start();
    let id: string;
    try {
      [id] = (await parkNappers(a, 1)) as [string];
    } finally {
      await a.stop({ graceMs: 0 });
    }
    // No engine: the waker's round alone ends the sleep once it is due.
    await until(
      async () =>
        (await db.pool.query("SELECT available_at <= now() AS due FROM skyflow.runs WHERE id = $1", [id]))
          .rows[0].due,
      (due) => due === true,
    );
    await db.pool.query("CALL skyflow.end_due_sleeps(0, 1000, 100)");
    expect(await runRow(id)).toMatchObject({ status: "sleeping", lease_owner: null });
    expect((await runRow(id)).wake).toMatchObject({ slept: { slept_ms: expect.any(Number) } });
    const nap = await tries(id, "nap");
    // As a claim leaves it (its wait and wake taken), with the claiming engine gone before any save.
    await db.pool.query(
      `UPDATE skyflow.runs SET status = 'running', wait = NULL, wake = NULL, lease_owner = 'gone', lease_until = now() - interval '1 second',
         claims = claims + 1 WHERE id = $1`,
      [id],
    );
    const b = engineOf();
    await b.start();
    try {
      const run = await b.waitForRun(id, 30_000);
      expect(run.status).toBe("succeeded");
      const after = await tries(id, "nap");
      expect(after).toHaveLength(1);
      expect(after[0].output).toEqual(nap[0].output);
      expect(after[0].finished_at).toEqual(nap[0].finished_at);
      expect((await afterCounts([id])).map((r) => r.n)).toEqual([1]);
    } finally {
      await b.stop({ graceMs: 0 });
    }
  }, 60_000);
});

describe("a released wait_for run", () => {
  it("is leased to this process's engine in the release's transaction and handed over after it", async () => {
    const engine = engineOf();
    await engine.start();
    // The engine's handoff as the triggers see it, recording what they hand over.
    const { adopted, triggers } = await recordingTriggers(engine);
    try {
      const id = (await engine.trigger("waiter", { type: "call", input: { ref: "k1" } } as never)).runId;
      await until(
        () => runRow(id),
        (r) => r?.status === "waiting",
      );
      const before = await runRow(id);
      await container.sendAction("record:save", {
        database_id: "_public",
        records: [
          { _id: "approval/x", ref: "nope" },
          { _id: "approval/a1", ref: "k1" },
        ],
      });
      const run = await engine.waitForRun(id, 20_000);
      expect(run.status).toBe("succeeded");
      // Handed over with its wait and the event that released it, leased in the release's transaction.
      const mine = adopted.filter((r) => r.id === id);
      expect(mine).toHaveLength(1);
      expect(mine[0]).toMatchObject({ wait: { kind: "wait_for", step: "w" } });
      expect((mine[0]!.wake as { event: { record: { _id: string } } }).event.record._id).toBe("approval/a1");
      // With the outputs of the steps before it, read in that statement, not by the runner afterwards.
      expect(mine[0]!.outputs).toMatchObject({ pre: { rows: [{ ref: "k1" }] } });
      expect(run.tries.find((t) => t.stepKey === "post")?.output).toMatchObject({ rows: [{ seen: "k1" }] });
      // That lease was the run's one claim since it parked, and its step ended once, with the event.
      expect((await runRow(id)).claims).toBe(before.claims + 1);
      const w = run.tries.filter((t) => t.stepKey === "w");
      expect(w).toHaveLength(1);
      expect(w[0]!.output).toMatchObject({ timed_out: false, event: { record: { _id: "approval/a1" } } });
    } finally {
      await triggers.stop();
      await engine.stop({ graceMs: 0 });
    }
  }, 60_000);

  it("released where the engine has no room, is left due for a claim and goes on once", async () => {
    const engine = engineOf();
    await engine.start();
    // The triggers' engine has no room: the release leases nothing and leaves the run to the claim.
    const { adopted, triggers } = await recordingTriggers(engine, () => 0);
    try {
      const id = (await engine.trigger("waiter", { type: "call", input: { ref: "k2" } } as never)).runId;
      await until(
        () => runRow(id),
        (r) => r?.status === "waiting",
      );
      const before = await runRow(id);
      await container.sendAction("record:save", {
        database_id: "_public",
        records: [{ _id: "approval/a2", ref: "k2" }],
      });
      const run = await engine.waitForRun(id, 20_000);
      expect(run.status).toBe("succeeded");
      expect(adopted.filter((r) => r.id === id)).toEqual([]);
      // One claim since it parked (the engine's, not the release's), and one end of its step, with the event.
      expect((await runRow(id)).claims).toBe(before.claims + 1);
      const w = run.tries.filter((t) => t.stepKey === "w");
      expect(w).toHaveLength(1);
      expect(w[0]!.output).toMatchObject({ timed_out: false, event: { record: { _id: "approval/a2" } } });
      expect(run.tries.find((t) => t.stepKey === "post")?.output).toMatchObject({ rows: [{ seen: "k2" }] });
      expect(
        (await db.pool.query("SELECT count(*)::int AS n FROM skyflow.waits WHERE run_id = $1", [id])).rows[0]
          .n,
      ).toBe(0);
    } finally {
      await triggers.stop();
      await engine.stop({ graceMs: 0 });
    }
  }, 60_000);
});
