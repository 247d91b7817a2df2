// Triggers + engine in one process: new runs (of record changes, cron fires and pubsub messages) are created
// leased to the engine and handed over without a claim or a wake-up; workflows with a concurrency limit
// still go through the queue.
import { describe, expect, it } from "vitest";
import { createEngine } from "../../../src/engine/engine.js";
import { startTriggers } from "../../../src/engine/triggers/index.js";
import { silentLogger } from "../../../src/log.js";
import { type TestDatabase, useTestDatabase } from "../../helpers/db.js";
import { poolOnlyClients, step } from "../fixtures/defs.js";
import {
  catalog,
  createRecordTable,
  hub,
  insertRecord,
  useEngineAndTriggers,
  waitFor,
  workflow,
} from "./helpers.js";

const APP = "app_handoff";
const db = useTestDatabase("triggers_handoff", setUp);
const running = useEngineAndTriggers();

async function setUp(db: TestDatabase): Promise<void> {
  await createRecordTable(db.pool, APP, "task", "ADD COLUMN title text");
}

const onTask = (name: string) => ({
  ...workflow(name, [{ kind: "record", type: "task", database: "_public", events: ["create"] }]),
  steps: [step("sql", { statement: "SELECT 1" })],
});

/**
 * An engine that never polls in time and (unless `wakes`) triggers that never wake it: only the handoff can
 * start runs.
 */
async function start(
  list: ReturnType<typeof onTask>[],
  maxRuns = 200,
  wakes = false,
  pubsub?: ReturnType<ReturnType<typeof hub>["client"]>,
) {
  const cat = catalog(list);
  const clients = poolOnlyClients(db.pool);
  running.engine = createEngine({
    pool: db.pool,
    catalog: cat,
    clients,
    log: silentLogger(),
    pollMs: 600_000,
    maxRuns,
  });
  await running.engine.start();
  running.triggers = await startTriggers({
    pool: db.pool,
    catalog: cat,
    appSchema: APP,
    wake: wakes ? () => running.engine?.wake() : () => {},
    handoff: running.engine.handoff(),
    log: silentLogger(),
    ...(pubsub ? { pubsub, pollMs: 100 } : {}),
  });
}

/** Resolves once no client of the pool has been checked out for 100 ms: the engine's claims are done. */
async function quiet(): Promise<void> {
  let since = Date.now();
  while (Date.now() - since < 100) {
    if (db.pool.totalCount - db.pool.idleCount > 0 || db.pool.waitingCount > 0) since = Date.now();
    await new Promise((r) => setTimeout(r, 2));
  }
}

const statusOf = async (wf: string) =>
  (
    await db.pool.query<{ status: string; lease_owner: string | null }>(
      "SELECT status, lease_owner FROM skyflow.runs WHERE workflow = $1 ORDER BY seq",
      [wf],
    )
  ).rows.map((r) => r.status);

describe("handing runs to an engine in the same process", () => {
  it("runs a change's workflow with no claim and no wake-up", async () => {
    await start([onTask("handed")]);
    for (let i = 0; i < 5; i++) await insertRecord(db.pool, APP, "task", `h${i}`);
    const s = await waitFor(
      () => statusOf("handed"),
      (v) => v.length === 5 && v.every((x) => x === "succeeded"),
    );
    expect(s).toEqual(Array(5).fill("succeeded"));
  });

  it("runs a stream of changes, claimed one after another on their NOTIFYs, with no claim and no wake-up", async () => {
    await start([onTask("streamed")]);
    // Four writers, one change a transaction: changes notify while claims are out, and are claimed in a chain.
    await Promise.all(
      [0, 1, 2, 3].map(async (w) => {
        for (let i = 0; i < 15; i++) {
          await insertRecord(db.pool, APP, "task", `s${w}-${i}`);
          await new Promise((r) => setTimeout(r, 2));
        }
      }),
    );
    const s = await waitFor(
      () => statusOf("streamed"),
      (v) => v.length === 60 && v.every((x) => x === "succeeded"),
    );
    expect(s).toEqual(Array(60).fill("succeeded"));
    // Handed over as each claim transaction committed, none taken by a claim (which counts in `claims`).
    const { rows } = await db.pool.query(
      "SELECT count(*)::int AS n FROM skyflow.runs WHERE workflow = 'streamed' AND claims > 0",
    );
    expect(rows[0].n).toBe(0);
  });

  it("runs a cron fire's workflow with no claim and no wake-up", async () => {
    const everySecond = {
      ...workflow("tick", [
        {
          kind: "cron",
          schedule: "* * * * * *",
          timezone: "Europe/Paris",
          catchUp: "none",
          overlap: "allow",
        },
      ]),
      steps: [step("sql", { statement: "SELECT 1" })],
    };
    await start([everySecond]);
    const s = await waitFor(
      () => statusOf("tick"),
      (v) => v.includes("succeeded"),
    );
    expect(s).toContain("succeeded");
  });

  it("runs a pubsub message's workflow with no claim and no wake-up", async () => {
    const h = hub();
    const onOrder = {
      ...workflow("order", [{ kind: "pubsub", channel: "orders" }]),
      steps: [step("sql", { statement: "SELECT 1" })],
    };
    await start([onOrder], 200, false, h.client("e1"));
    await waitFor(
      async () => h.subscribers("orders"),
      (v) => v.length === 1,
    );
    h.publish("orders", { id: 1 });
    expect(
      await waitFor(
        () => statusOf("order"),
        (v) => v.length === 1 && v[0] === "succeeded",
      ),
    ).toEqual(["succeeded"]);
  });

  it("hands over no more runs than the engine has room for", async () => {
    const slow = { ...onTask("slow"), steps: [step("sql", { statement: "SELECT pg_sleep(0.5)" })] };
    // The triggers wake the engine for the runs they could not hand over, as the daemon wires them.
    await start([slow], 2, true);
    const c = await db.pool.connect();
    try {
      // One transaction, so that one claim of the outbox brings all four changes.
      await c.query("BEGIN");
      for (let i = 0; i < 4; i++) await insertRecord(c, APP, "task", `s${i}`);
      await c.query("COMMIT");
    } finally {
      c.release();
    }
    // At no moment more than two run; the others wait: in the queue (claimed on their NOTIFY, the wake-up
    // found the engine full, so the next run to end claims), or in the outbox (claimed in rounds, as the
    // engine has room).
    let most = 0;
    const all = await waitFor(
      async () => {
        const v = await statusOf("slow");
        most = Math.max(most, v.filter((x) => x === "running").length);
        return v;
      },
      (v) => v.length === 4 && v.every((x) => x === "succeeded"),
    );
    expect(all).toEqual(Array(4).fill("succeeded"));
    expect(most).toBeLessThanOrEqual(2);
  });

  it("claims a backlog of changes only as far as the engine has room: every run created leased", async () => {
    const busy = { ...onTask("backlog"), steps: [step("sql", { statement: "SELECT pg_sleep(0.02)" })] };
    await start([busy], 3);
    // Changes made while no trigger runs (its row trigger stays on the table): the next start drains them
    // in rounds.
    await running.triggers!.stop();
    running.triggers = undefined;
    const c = await db.pool.connect();
    try {
      await c.query("BEGIN");
      for (let i = 0; i < 12; i++) await insertRecord(c, APP, "task", `b${i}`);
      await c.query("COMMIT");
    } finally {
      c.release();
    }
    // Waiting for room as long as it takes: under load a run can outlast the trigger's wait, which then
    // claims the rest pending (a whole batch), for an engine this test never wakes.
    const handoff = running.engine!.handoff();
    running.triggers = await startTriggers({
      pool: db.pool,
      catalog: catalog([busy]),
      appSchema: APP,
      wake: () => {},
      handoff: { ...handoff, whenRoom: (n) => handoff.whenRoom!(n, 60_000) },
      log: silentLogger(),
    });
    // The engine is never woken: a run left pending would stay so.
    const runs = await waitFor(
      async () =>
        (
          await db.pool.query<{ status: string; claims: number }>(
            "SELECT status, claims FROM skyflow.runs WHERE workflow = 'backlog' ORDER BY seq",
          )
        ).rows,
      (v) => v.length === 12 && v.every((r) => r.status === "succeeded"),
      20_000,
    );
    // None was claimed (claims counts the claims of a run; a run created leased has none).
    expect(runs.map((r) => r.claims)).toEqual(Array(12).fill(0));
  });

  it("leaves runs of a workflow with a concurrency limit to the queue", async () => {
    await start([{ ...onTask("limited"), concurrency: { limit: 1 } }]);
    // The engine's start-up claims are not awaited by start(): one still in flight under load when the run is
    // created would take it. Only a wake-up may claim it after they are done.
    await quiet();
    await insertRecord(db.pool, APP, "task", "q1");
    await waitFor(
      () => statusOf("limited"),
      (v) => v.length === 1,
    );
    await new Promise((r) => setTimeout(r, 300));
    expect(await statusOf("limited")).toEqual(["pending"]);
    running.engine!.wake();
    expect(
      await waitFor(
        () => statusOf("limited"),
        (v) => v[0] === "succeeded",
      ),
    ).toEqual(["succeeded"]);
  });

  it("gives runs handed to an engine that stopped meanwhile back to the queue", async () => {
    await start([onTask("late")]);
    const h = running.engine!.handoff();
    expect(h.reserve(1)).toBe(1);
    // The trigger's transaction commits a leased run while the engine shuts down.
    const { rows } = await db.pool.query<{ id: string; started_at: Date }>(
      `INSERT INTO skyflow.runs (id, workflow, version, event_id, event, status, lease_owner, lease_until, started_at)
       VALUES (gen_random_uuid(), 'late', 'v', 'e1', '{"id":"e1"}', 'running', $1, now() + interval '30 seconds', now())
       RETURNING id, started_at`,
      [h.owner],
    );
    await running.triggers?.stop();
    await running.engine!.stop({ graceMs: 0 });
    const run = rows[0]!;
    h.adopt(
      [
        {
          id: run.id,
          workflow: "late",
          version: "v",
          event: { id: "e1" },
          depth: 0,
          status: "running",
          snapshot: null,
          attempt: 1,
          concurrency_key: null,
          started_at: run.started_at,
        },
      ],
      1,
    );
    const released = await waitFor(
      async () =>
        (
          await db.pool.query<{ status: string; lease_owner: string | null }>(
            "SELECT status, lease_owner FROM skyflow.runs WHERE id = $1",
            [run.id],
          )
        ).rows[0],
      (r) => r?.lease_owner === null,
    );
    expect(released).toEqual({ status: "waiting", lease_owner: null });
    // A stopped engine reserves nothing.
    expect(h.reserve(1)).toBe(0);
  });
});
