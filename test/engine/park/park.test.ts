// sleep, wait_for and call through the real engine and record trigger, against the Skygear-compatible server:
// runs park in Postgres (no engine holds them) and resume on their wake time, matching record or child end.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadWorkflowSource } from "../../../src/engine/definition/load.js";
import { createEngine, type Engine } from "../../../src/engine/engine.js";
import { nextDueMs, parkedCounts } from "../../../src/engine/park/waker.js";
import { startTriggers, type Triggers } from "../../../src/engine/triggers/index.js";
import { cancelAction } from "../../../src/http/actions.js";
import { SkygearContainer } from "../../../src/skygear/container.js";
import { createInProcessTransport } from "../../../src/skygear/transport-inprocess.js";
import { createTestDatabase, type TestDatabase } from "../../helpers/db.js";
import { capturedLogger } from "../../helpers/log.js";
import { startTestServer, TEST_MASTER_KEY, type TestServer } from "../../helpers/server.js";
import { catalogOf } from "../fixtures/defs.js";
import { hub } from "../triggers/helpers.js";

const SLEEPER = `name: sleeper
on: { call: {} }
steps:
  - id: nap
    sleep: 1500ms
  - id: done
    sleep: { until: "\${{ event.at }}" }
`;
const WAITER = `name: waiter
on:
  record: { type: request, events: [create] }
steps:
  - id: approval
    wait_for:
      record: { type: approval, events: [create] }
      match: \${{ incoming.record.request == event.record._id && incoming.record.ok }}
      timeout: 3s
`;
const PARENT = `name: parent
on: { call: {} }
steps:
  - id: child
    call:
      workflow: child
      input: { n: "\${{ event.input.n }}" }
`;
const PUBWAIT = `name: pubwait
on: { call: {} }
steps:
  - id: ack
    wait_for:
      pubsub: { channel: acks }
      match: \${{ incoming.data.order == event.input.order }}
      timeout: 30s
`;
const SLOWPARENT = `name: slowparent
on: { call: {} }
steps:
  - call: { workflow: slowchild }
`;
const SLOWCHILD = `name: slowchild
on: { call: {} }
steps:
  - sleep: 1h
`;
const ONCE = `name: once
on: { call: {} }
steps:
  - id: w
    wait_for:
      pubsub: { channel: never }
      match: \${{ incoming.data.id == run.id }}
      timeout: 1500ms
  - sql:
      statement: INSERT INTO after_timeout (run_id, timed_out) VALUES ($1, $2)
      params: ["\${{ run.id }}", "\${{ steps.w.output.timed_out }}"]
`;
const FAILCHILD = `name: failchild
on: { call: {} }
steps:
  - sql: { statement: "SELECT 1/0" }
`;
const CALLFAIL = `name: callfail
on: { call: {} }
steps:
  - id: c
    call: { workflow: failchild }
`;
const NOWAIT = `name: nowait
on: { call: {} }
steps:
  - id: c
    call: { workflow: slowchild, wait: false }
`;
// d1 calls d2 ... d6 calls d7: the sixth call would nest 6 deep.
const CHAIN = Array.from({ length: 7 }, (_, i) =>
  i === 6
    ? "name: d7\non: { call: {} }\nsteps:\n  - sql: { statement: SELECT 1 }\n"
    : `name: d${i + 1}\non: { call: {} }\nsteps:\n  - id: c\n    call: { workflow: d${i + 2} }\n`,
);
const LATE = `name: late
on: { call: {} }
steps:
  - id: w
    wait_for:
      record: { type: ticket, events: [create] }
      match: \${{ incoming.record.run == run.id }}
      timeout: 1500ms
`;
const CHILD = `name: child
on: { call: {} }
steps:
  - id: echo
    sql: { statement: "SELECT $1::text AS n", params: ["\${{ event.input.n }}"] }
`;

let db: TestDatabase;
let srv: TestServer;
let engine: Engine;
let triggers: Triggers;
let startTriggersHere: () => Promise<Triggers>;
let container: SkygearContainer;
let catalog: ReturnType<typeof catalogOf>;
let clients: Parameters<typeof createEngine>[0]["clients"];
const pubsubHub = hub();
const { log } = capturedLogger("warn");

beforeAll(async () => {
  db = await createTestDatabase("park_engine");
  srv = await startTestServer(db.pool);
  const wfs = [
    SLEEPER,
    WAITER,
    PARENT,
    CHILD,
    LATE,
    PUBWAIT,
    SLOWPARENT,
    SLOWCHILD,
    ONCE,
    FAILCHILD,
    CALLFAIL,
    NOWAIT,
    ...CHAIN,
  ].map((y) => {
    const name = /name: (\S+)/.exec(y)![1]!;
    const r = loadWorkflowSource(`workflows/${name}.yaml`, y);
    expect(r.problems).toEqual([]);
    return r.workflow!;
  });
  catalog = catalogOf(wfs);
  container = new SkygearContainer({
    transport: createInProcessTransport(srv.handler),
    apiKey: TEST_MASTER_KEY,
  });
  clients = {
    skygear: container,
    pool: db.pool,
    appSchema: srv.config.schema,
    pubsub: { publish: async () => {} },
  };
  engine = createEngine({ pool: db.pool, catalog, clients, log, pollMs: 200 });
  await engine.start();
  startTriggersHere = () =>
    startTriggers({
      pool: db.pool,
      catalog,
      appSchema: srv.config.schema,
      wake: () => engine.wake(),
      log,
      pollMs: 200,
      pubsub: pubsubHub.client("engine"),
    });
  triggers = await startTriggersHere();
});
afterAll(async () => {
  await triggers?.stop();
  await engine?.stop({ graceMs: 0 });
  await srv?.close();
  await db?.drop();
});

async function until<T>(fn: () => Promise<T>, ok: (v: T) => boolean, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (ok(v) || Date.now() > end) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
}

const row = async (id: string) =>
  (await db.pool.query("SELECT status, wait, lease_owner FROM skyflow.runs WHERE id = $1", [id])).rows[0];

describe("parked runs", () => {
  it("a sleep parks the run with no lease, then resumes it with slept_ms", async () => {
    const { runId } = await engine.trigger("sleeper", { type: "call", input: {} } as never);
    const parked = await until(
      () => row(runId),
      (r) => r?.status === "sleeping",
    );
    expect(parked.lease_owner).toBeNull();
    expect(parked.wait).toMatchObject({ kind: "sleep", step: "nap" });
    expect(engine.inFlight()).toBe(0);
    expect(await parkedCounts(db.pool)).toMatchObject({ sleep: 1 });
    expect(await nextDueMs(db.pool)).toBeGreaterThan(0);
    const run = await engine.waitForRun(runId, 20_000);
    expect(run.status).toBe("succeeded");
    const nap = run.tries.find((t) => t.stepKey === "nap")!;
    expect((nap.output as { slept_ms: number }).slept_ms).toBeGreaterThanOrEqual(1400);
    expect(run.tries.find((t) => t.stepKey === "done")!.output).toEqual({ slept_ms: 0 });
  });

  it("wait_for releases the matching run, ignores others, and times out one", async () => {
    const save = (records: unknown[]) =>
      container.sendAction("record:save", { database_id: "_public", records });
    await save([{ _id: "request/r1" }, { _id: "request/r2" }, { _id: "request/r3" }]);
    const ids = async () =>
      (
        await db.pool.query(
          "SELECT id, status FROM skyflow.runs WHERE workflow = 'waiter' ORDER BY event->'record'->>'_id'",
        )
      ).rows;
    await until(ids, (rs) => rs.length === 3 && rs.every((r) => r.status === "waiting"));
    const { rows: w } = await db.pool.query("SELECT key FROM skyflow.waits ORDER BY key");
    expect(w.map((r) => r.key)).toEqual(['"request/r1"', '"request/r2"', '"request/r3"']);
    // r2's approval does not match (ok false); r1's does; r3 gets none.
    await save([{ _id: "approval/a2", request: "request/r2", ok: false }]);
    await save([{ _id: "approval/a1", request: "request/r1", ok: true }]);
    const [r1, r2, r3] = (await ids()).map((r) => r.id as string);
    const one = await engine.waitForRun(r1!, 10_000);
    expect(one.status).toBe("succeeded");
    const out = one.tries.find((t) => t.stepKey === "approval")!.output as {
      event: { record: { _id: string } };
      timed_out: boolean;
    };
    expect(out.timed_out).toBe(false);
    expect(out.event.record._id).toBe("approval/a1");
    for (const id of [r2!, r3!]) {
      const r = await engine.waitForRun(id, 20_000);
      expect(r.tries.find((t) => t.stepKey === "approval")!.output).toEqual({ event: null, timed_out: true });
    }
    expect((await db.pool.query("SELECT count(*)::int AS n FROM skyflow.waits")).rows[0].n).toBe(0);
  });

  it("call starts a child run and completes with its output", async () => {
    const { runId } = await engine.trigger("parent", { type: "call", input: { n: "7" } } as never);
    const run = await engine.waitForRun(runId, 20_000);
    expect(run.status).toBe("succeeded");
    expect(run.tries.find((t) => t.stepKey === "child")!.output).toMatchObject({ rows: [{ n: "7" }] });
    const { rows } = await db.pool.query(
      "SELECT parent_id, event FROM skyflow.runs WHERE workflow = 'child'",
    );
    expect(rows[0].parent_id).toBe(runId);
    expect(rows[0].event).toMatchObject({
      type: "call",
      input: { n: "7" },
      parent: { run: runId, workflow: "parent", step: "child" },
    });
  });

  it("wait_for on pubsub: the matching message releases its run, others do not", async () => {
    const a = await engine.trigger("pubwait", { type: "call", input: { order: "o1" } } as never);
    const b = await engine.trigger("pubwait", { type: "call", input: { order: "o2" } } as never);
    await until(
      () => row(b.runId),
      (r) => r?.status === "waiting",
    );
    await until(
      () => row(a.runId),
      (r) => r?.status === "waiting",
    );
    await until(
      async () => pubsubHub.subscribers("acks").length,
      (n) => n > 0,
    );
    pubsubHub.publish("acks", { order: "o1", by: "ann" });
    const run = await engine.waitForRun(a.runId, 10_000);
    expect(run.tries.find((t) => t.stepKey === "ack")!.output).toMatchObject({
      timed_out: false,
      event: { type: "pubsub", channel: "acks", data: { order: "o1", by: "ann" } },
    });
    expect((await row(b.runId)).status).toBe("waiting");
    expect((await cancelAction(db.pool, undefined, b.runId, "test")).ok).toBe(true);
    expect((await row(b.runId)).status).toBe("cancelled");
    expect((await db.pool.query("SELECT count(*)::int AS n FROM skyflow.waits")).rows[0].n).toBe(0);
  });

  it("cancelling a parent waiting on a call cancels the sleeping child too", async () => {
    const { runId } = await engine.trigger("slowparent", { type: "call", input: {} } as never);
    await until(
      () => row(runId),
      (r) => r?.status === "waiting",
    );
    const childId = (await db.pool.query("SELECT id FROM skyflow.runs WHERE parent_id = $1", [runId])).rows[0]
      ?.id;
    await until(
      () => row(childId),
      (r) => r?.status === "sleeping",
    );
    const r = await cancelAction(db.pool, undefined, runId, "test");
    expect(r).toMatchObject({ ok: true });
    expect((await row(runId)).status).toBe("cancelled");
    expect((await row(childId)).status).toBe("cancelled");
  });

  it("a wait_for timeout fires once with two engines polling", async () => {
    await db.pool.query(`CREATE TABLE ${srv.config.schema}.after_timeout (run_id uuid, timed_out boolean)`);
    const other = createEngine({ pool: db.pool, catalog, clients, log, pollMs: 50, owner: "second" });
    await other.start();
    try {
      const ids: string[] = [];
      for (let i = 0; i < 20; i++)
        ids.push((await engine.trigger("once", { type: "call", input: {} } as never)).runId);
      for (const id of ids) expect((await engine.waitForRun(id, 30_000)).status).toBe("succeeded");
      const { rows } = await db.pool.query(
        `SELECT run_id, count(*)::int AS n, bool_and(timed_out) AS t FROM ${srv.config.schema}.after_timeout GROUP BY 1`,
      );
      expect(rows).toHaveLength(20);
      expect(rows.every((r) => r.n === 1 && r.t === true)).toBe(true);
      const tries = await db.pool.query(
        "SELECT count(*)::int AS n FROM skyflow.step_tries WHERE step_key = 'w' AND run_id = ANY($1)",
        [ids],
      );
      expect(tries.rows[0].n).toBe(20);
    } finally {
      await other.stop({ graceMs: 0 });
    }
  }, 60_000);

  it("a failed child fails the call step with ChildRunFailed; wait: false returns the child's run id", async () => {
    const failed = await engine.waitForRun(
      (await engine.trigger("callfail", { type: "call", input: {} } as never)).runId,
      20_000,
    );
    expect(failed.status).toBe("failed");
    expect(failed.error).toMatchObject({ name: "ChildRunFailed", step: "c" });
    expect(failed.error!.message).toMatch(/failchild\) failed: SqlError/);
    const go = await engine.waitForRun(
      (await engine.trigger("nowait", { type: "call", input: {} } as never)).runId,
      20_000,
    );
    expect(go.status).toBe("succeeded");
    const out = go.tries.find((t) => t.stepKey === "c")!.output as { run: string };
    expect((await row(out.run)).status).toMatch(/pending|running|sleeping/);
    await cancelAction(db.pool, undefined, out.run, "test");
  });

  it("calls nest at most 5 deep: the sixth fails with CallDepthExceeded, and so does each caller", async () => {
    const top = await engine.waitForRun(
      (await engine.trigger("d1", { type: "call", input: {} } as never)).runId,
      30_000,
    );
    expect(top.status).toBe("failed");
    expect(top.error).toMatchObject({ name: "ChildRunFailed" });
    const { rows } = await db.pool.query(
      "SELECT workflow, depth, status, error->>'name' AS e FROM skyflow.runs WHERE workflow ~ '^d[0-9]$' ORDER BY depth",
    );
    expect(rows.map((r) => r.workflow)).toEqual(["d1", "d2", "d3", "d4", "d5", "d6"]);
    expect(rows[5]).toMatchObject({ depth: 5, status: "failed", e: "CallDepthExceeded" });
  }, 40_000);

  it("a timeout lets changes made before it, still in the outbox, release the run first", async () => {
    const save = (records: unknown[]) =>
      container.sendAction("record:save", { database_id: "_public", records });
    await save([{ _id: "ticket/t0", run: "none" }]);
    const { runId } = await engine.trigger("late", { type: "call", input: {} } as never);
    await until(
      () => row(runId),
      (r) => r?.status === "waiting",
    );
    await triggers.stop();
    // No trigger drains now (an engine restarting resumes due runs before its trigger drains).
    await save([{ _id: "ticket/t1", run: runId }]);
    await new Promise((r) => setTimeout(r, 2500));
    // Past its timeout the run is claimed every 500 ms, finds the change in the outbox and parks again: it
    // reads 'running' during each such claim, but its wait step has not ended.
    const tries = await db.pool.query(
      "SELECT status, finished_at FROM skyflow.step_tries WHERE run_id = $1 AND step_key = 'w'",
      [runId],
    );
    expect(tries.rows).toHaveLength(1);
    expect(tries.rows[0]).toMatchObject({ status: "running", finished_at: null });
    const back = await until(
      () => row(runId),
      (r) => r.status === "waiting",
    );
    expect(back.status).toBe("waiting");
    triggers = await startTriggersHere();
    const run = await engine.waitForRun(runId, 20_000);
    expect(run.tries.find((t) => t.stepKey === "w")!.output).toMatchObject({
      timed_out: false,
      event: { record: { _id: "ticket/t1" } },
    });
  }, 40_000);
});
