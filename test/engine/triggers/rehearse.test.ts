// The record trigger's rehearsal at start (src/engine/triggers/record/rehearse.ts, src/engine/rehearse.ts): a
// synthetic change of each watched type goes the whole way to its run's first statement against nothing.
// It runs (its sql statement and its try's COMMIT reach the dry pool), and it leaves nothing anywhere: no
// run, try, version or outbox change touched, nothing in the app's tables or sequences, no run or step
// event (metrics and hooks hang off those); and the first real change then runs once, as always.
import { describe, expect, it } from "vitest";
import { createEngine } from "../../../src/engine/engine.js";
import { lastRehearsal } from "../../../src/engine/rehearse.js";
import { startTriggers } from "../../../src/engine/triggers/index.js";
import { planChange } from "../../../src/engine/triggers/record/match.js";
import { parseOutboxRow } from "../../../src/engine/triggers/record/parse.js";
import { REHEARSAL_KEY, rehearseChanges } from "../../../src/engine/triggers/record/rehearse.js";
import { knownVersions } from "../../../src/engine/triggers/start-runs.js";
import { silentLogger } from "../../../src/log.js";
import { loadTableColumns } from "../../../src/server/records/table.js";
import { type TestDatabase, useTestDatabase } from "../../helpers/db.js";
import { poolOnlyClients, step } from "../fixtures/defs.js";
import {
  catalog,
  createRecordTable,
  insertRecord,
  useEngineAndTriggers,
  waitFor,
  when,
  workflow,
} from "./helpers.js";

const APP = "app_rehearse";
const db = useTestDatabase("triggers_rehearse", setUp);
const running = useEngineAndTriggers();

const SINK = `INSERT INTO ${APP}.sink (title) VALUES ($1)`;

// A `when` the synthetic record fails: rehearsed all the same.
const onTask = {
  ...workflow("on_task", [
    {
      kind: "record",
      type: "task",
      database: "_public",
      events: ["create"],
      when: when("event.record.title != 'skyflow-rehearsal'"),
    },
  ]),
  steps: [step("sql", { statement: SINK, params: ["${{ event.record.title }}"] }, { key: "sink" })],
} as ReturnType<typeof workflow>;

async function setUp(db: TestDatabase): Promise<void> {
  await createRecordTable(db.pool, APP, "task", "ADD COLUMN title text, ADD COLUMN n integer");
  await db.pool.query(`CREATE TABLE ${APP}.sink (id serial PRIMARY KEY, title text)`);
}

/** Everything a rehearsal must leave as it was. */
async function footprint() {
  const n = async (sql: string) => Number((await db.pool.query<{ n: string }>(sql)).rows[0]!.n);
  return {
    runs: await n("SELECT count(*) AS n FROM skyflow.runs"),
    tries: await n("SELECT count(*) AS n FROM skyflow.step_tries"),
    versions: await n("SELECT count(*) AS n FROM skyflow.workflow_versions"),
    outbox: await n("SELECT count(*) AS n FROM skyflow.record_outbox"),
    writes: await n("SELECT count(*) AS n FROM skyflow.run_writes"),
    tasks: await n(`SELECT count(*) AS n FROM ${APP}.task`),
    sink: await n(`SELECT count(*) AS n FROM ${APP}.sink`),
    sinkSeq: await n(`SELECT CASE WHEN is_called THEN last_value ELSE 0 END AS n FROM ${APP}.sink_id_seq`),
  };
}

async function startEngine(events: string[]) {
  const cat = catalog([onTask]);
  running.engine = createEngine({
    pool: db.pool,
    catalog: cat,
    clients: poolOnlyClients(db.pool),
    log: silentLogger(),
    pollMs: 600_000,
  });
  running.engine.on("run", (e) => events.push(`run ${e.type} ${e.runId}`));
  running.engine.on("step", (e) => events.push(`step ${e.type} ${e.runId}`));
  await running.engine.start();
  return cat;
}

describe("record trigger rehearsal", () => {
  it("runs a synthetic change to its first statement at start, leaving nothing behind", async () => {
    const before = await footprint();
    const events: string[] = [];
    const cat = await startEngine(events);
    running.triggers = await startTriggers({
      pool: db.pool,
      catalog: cat,
      appSchema: APP,
      wake: () => {},
      handoff: running.engine!.handoff(),
      log: silentLogger(),
      pollMs: 600_000,
    });
    // It ran, through the sql step's statement and its try's COMMIT (both to the dry pool).
    const r = lastRehearsal();
    expect(r).toMatchObject({ runs: 3, ended: 3 });
    expect(r!.statements).toContain(SINK);
    expect(r!.statements.some((s) => s.includes("skyflow.step_tries"))).toBe(true);
    // Three statements in two transactions: the first alone, the next two grouped (steps/sql-group.ts).
    expect(r!.statements.filter((s) => s === SINK)).toHaveLength(3);
    expect(r!.statements.filter((s) => s === "COMMIT")).toHaveLength(2);
    // Nothing written, consumed or reported.
    expect(await footprint()).toEqual(before);
    expect(events).toEqual([]);
    expect(running.engine!.inFlight()).toBe(0);
    // The first real change goes its way once, its version stored then.
    await insertRecord(db.pool, APP, "task", "t1", { title: "first" });
    await waitFor(
      async () =>
        (await db.pool.query<{ status: string }>("SELECT status FROM skyflow.runs")).rows.map(
          (x) => x.status,
        ),
      (v) => v.length === 1 && v[0] === "succeeded",
    );
    expect(
      (await db.pool.query<{ title: string }>(`SELECT title FROM ${APP}.sink`)).rows.map((x) => x.title),
    ).toEqual(["first"]);
    expect((await footprint()).versions).toBe(1);
    expect(events.filter((e) => e.startsWith("run succeeded"))).toHaveLength(1);
  });

  it("leaves a pending change in the outbox and writes nothing", async () => {
    // A change waiting: the rehearsal must not claim or touch it.
    await insertRecord(db.pool, APP, "task", "t2", { title: "waiting" });
    const before = await footprint();
    expect(before.outbox).toBe(1);
    const events: string[] = [];
    const cat = await startEngine(events);
    const cols = (await loadTableColumns(db.pool, APP, "task"))!;
    const n = await rehearseChanges({
      types: new Map([["task", cols]]),
      appSchema: APP,
      workflows: cat.list(),
      plan: async (rows) =>
        rows.flatMap(
          (row) =>
            planChange(parseOutboxRow(row), cols, undefined, cat.list(), {
              env: {},
              now: new Date(),
              loopDepth: 5,
              onWhenError: () => {},
            }).runs,
        ),
      handoff: running.engine!.handoff(),
    });
    expect(n).toBe(3);
    expect(lastRehearsal()).toMatchObject({ runs: 3, ended: 3 });
    expect(await footprint()).toEqual(before);
    expect(events).toEqual([]);
    const { rows } = await db.pool.query<{ record_key: string }>(
      "SELECT record_key FROM skyflow.record_outbox",
    );
    expect(rows.map((x) => x.record_key)).toEqual(["t2"]);
    expect(rows.map((x) => x.record_key)).not.toContain(REHEARSAL_KEY);
  });

  it("knows the versions stored already, and only those", async () => {
    // on_task's version was stored by the first test's change; another workflow's was never.
    const other = workflow("other", [
      { kind: "record", type: "task", database: "_public", events: ["create"] },
    ]);
    const stored = new Set<string>();
    await knownVersions(db.pool, [onTask, other], stored);
    expect([...stored]).toEqual([`on_task\u0000${onTask.version}`]);
  });
});
