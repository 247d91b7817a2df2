// The dashboard's HTTP side over a real database and a loopback server: the JSON API (the old fields kept,
// filters, id prefixes, a run's tries with nested keys, redaction, what a parked run waits for, called runs
// and their parent), and the actions (retry, cancel here, in the database with the runs it called, and
// through another daemon's CancelWatcher).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LiveCatalog } from "../../src/engine/catalog.js";
import type { WorkflowDefinition } from "../../src/engine/definition/types.js";
import { enqueueRuns } from "../../src/engine/store/enqueue.js";
import { CancelWatcher } from "../../src/http/actions.js";
import { DashboardAccess } from "../../src/http/auth.js";
import { createDashboardHandler } from "../../src/http/dashboard.js";
import { LiveFeed } from "../../src/http/live.js";
import { idRange } from "../../src/http/runs-api.js";
import { type HttpServer, startHttpServer } from "../../src/http/server.js";
import { silentLogger } from "../../src/log.js";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";

let db: TestDatabase;
let server: HttpServer;
let live: LiveFeed;
const cancelledHere: string[] = [];
const engine = { cancel: (id: string) => cancelledHere.includes(id), wake: () => {} };

const def = (name: string): WorkflowDefinition => ({
  name,
  file: `w/${name}.yaml`,
  version: "abcdef1234567890",
  enabled: true,
  source: "name: daily\n",
  description: "<script>alert(1)</script>",
  triggers: [
    { kind: "cron", schedule: "0 9 * * *", timezone: "Asia/Hong_Kong", catchUp: "none", overlap: "skip" },
    { kind: "record", type: "task", database: "_public", events: ["create"] },
  ],
  steps: [],
  onFailure: [],
});

async function newRun(eventId: string, event: Record<string, unknown> = {}): Promise<string> {
  const [r] = await enqueueRuns(db.pool, [
    {
      workflow: "daily",
      version: "abcdef1234567890",
      event: { id: eventId, type: "manual", at: "2026-01-01T00:00:00Z", ...event },
    },
  ]);
  return r!.id;
}

/** Parks a run as wait_for does (src/engine/park/park.ts): its wait, and its row in skyflow.waits. */
async function parkWaiting(id: string, key: string): Promise<void> {
  await db.pool.query(
    `UPDATE skyflow.runs SET status = 'waiting', available_at = '2030-01-01T00:00:00Z',
       wait = '{"kind":"wait_for","step":"approval","began":"2029-12-30T00:00:00.000Z","until":"2030-01-01T00:00:00.000Z","source":"record:approval"}'
     WHERE id = $1`,
    [id],
  );
  await db.pool.query(
    `INSERT INTO skyflow.wait_exprs (source, expr_id, expr) VALUES ('record:approval', 'x1', 'incoming.record.task')
     ON CONFLICT DO NOTHING`,
  );
  await db.pool.query(
    `INSERT INTO skyflow.waits (run_id, source, expr_id, key, step_key, match, filter, ctx, until)
     VALUES ($1, 'record:approval', 'x1', $2, 'approval', '', '{}', '{}', '2030-01-01T00:00:00Z')`,
    [id, JSON.stringify(`task/${key}`)],
  );
}

/** A run that `parent`'s step `key` called, stored as a call step stores it. */
async function calledRun(parent: string, key: string): Promise<string> {
  const [r] = await enqueueRuns(db.pool, [
    {
      workflow: "daily",
      version: "abcdef1234567890",
      event: {
        id: `call:${parent}:1:${key}`,
        type: "call",
        at: "2026-01-01T00:00:00Z",
        input: {},
        parent: { run: parent, workflow: "daily", step: key.replace(/.*\./, "") },
      },
    },
  ]);
  await db.pool.query("UPDATE skyflow.runs SET parent_id = $2 WHERE id = $1", [r!.id, parent]);
  return r!.id;
}

beforeAll(async () => {
  db = await createTestDatabase("http_dashboard");
  const catalog = new LiveCatalog();
  catalog.apply([
    { file: "w/daily.yaml", workflow: def("daily"), problems: [] },
    {
      file: "w/bad.yaml",
      problems: [{ file: "w/bad.yaml", line: 2, column: 3, path: "on", message: "<b>bad</b>" }],
    },
  ]);
  live = new LiveFeed({ db: db.pool, catalog, log: silentLogger() });
  const handler = createDashboardHandler({
    pool: db.pool,
    catalog,
    mode: "start",
    access: new DashboardAccess({ openOnLoopback: false, secrets: ["master-key-for-tests"] }),
    live,
    secrets: ["master-key-for-tests"],
    engine,
  });
  server = await startHttpServer(handler, 0, "127.0.0.1");
});
afterAll(async () => {
  live?.close();
  await server?.close();
  await db?.drop();
});

const AUTH = { authorization: "Bearer master-key-for-tests" };
const get = (path: string) => fetch(`http://127.0.0.1:${server.port}${path}`, { headers: AUTH });
const post = (path: string) =>
  fetch(`http://127.0.0.1:${server.port}${path}`, { method: "POST", headers: AUTH });

describe("dashboard JSON API", () => {
  it("lists workflows with status, triggers and last run, and broken files with their problems", async () => {
    const id = await newRun("e-wf");
    await db.pool.query("UPDATE skyflow.runs SET status = 'failed', error = $2 WHERE id = $1", [
      id,
      JSON.stringify({ step: "s", name: "SqlError", message: "<oops>" }),
    ]);
    const rows = (await (await get("/api/workflows")).json()) as Record<string, unknown>[];
    expect(rows[0]).toMatchObject({
      name: "daily",
      status: "enabled",
      version: "abcdef123456",
      triggers: ['cron "0 9 * * *" Asia/Hong_Kong', "record task create"],
      lastRun: { status: "failed", id },
    });
    expect(rows[1]).toMatchObject({ status: "broken", problems: ["w/bad.yaml:2:3: on: <b>bad</b>"] });
  });

  it("keeps the run list's fields and filters by status, workflow and id prefix", async () => {
    const runs = (await (await get("/api/runs?status=failed")).json()) as Record<string, unknown>[];
    expect(runs.length).toBeGreaterThan(0);
    for (const key of ["id", "workflow", "status", "createdAt", "finishedAt", "error"])
      expect(runs[0]).toHaveProperty(key);
    expect(await (await get("/api/runs?status=cancelled")).json()).toEqual([]);
    expect(await (await get("/api/runs?workflow=other")).json()).toEqual([]);
    const id = String(runs[0]!.id);
    const byPrefix = (await (await get(`/api/runs?q=${id.slice(0, 8)}`)).json()) as { id: string }[];
    expect(byPrefix.map((r) => r.id)).toEqual([id]);
  });

  it("turns an id prefix into the range of uuids that start with it", () => {
    expect(idRange("ABC")).toEqual([
      "abc00000-0000-0000-0000-000000000000",
      "abcfffff-ffff-ffff-ffff-ffffffffffff",
    ]);
    expect(idRange("abcdef12-34")?.[0]).toBe("abcdef12-3400-0000-0000-000000000000");
    expect(idRange("xyz")).toBeUndefined();
  });

  it("shows a run with every try, nested step keys as stored, and keys and passwords redacted", async () => {
    const id = await newRun("e-detail", { data: { password: "hunter2", note: "uses master-key-for-tests" } });
    await db.pool.query(
      `INSERT INTO skyflow.step_tries (run_id, step_key, attempt, kind, status, input, output, error, started_at, finished_at)
       VALUES ($1, 'remind', 1, 'foreach', 'succeeded', '{}', '{"items":[]}', NULL, now(), now()),
              ($1, 'remind[0].tell', 1, 'push', 'failed', '{"users":["u1"]}', NULL, '{"name":"NetworkError","message":"down"}', now(), now()),
              ($1, 'remind[0].tell', 2, 'push', 'succeeded', '{"users":["u1"]}', '{"results":[]}', NULL, now(), now())`,
      [id],
    );
    const run = (await (await get(`/api/runs/${id}`)).json()) as Record<string, unknown> & {
      tries: Record<string, unknown>[];
    };
    expect(run.output).toBeNull();
    expect(run.tries.map((t) => `${t.stepKey}#${t.attempt}:${t.status}`)).toEqual([
      "remind#1:succeeded",
      "remind[0].tell#1:failed",
      "remind[0].tell#2:succeeded",
    ]);
    expect(run.tries[1]).toMatchObject({ error: { name: "NetworkError" }, input: { users: ["u1"] } });
    // The same tries as the tree of steps the page lays out: the foreach, its item, the item's step.
    expect(run.tree).toMatchObject([
      {
        kind: "step",
        key: "remind",
        children: [{ kind: "item", label: "[0]", children: [{ key: "remind[0].tell", tries: [{}, {}] }] }],
      },
    ]);
    expect(JSON.stringify(run)).not.toContain("hunter2");
    expect(JSON.stringify(run)).not.toContain("master-key-for-tests");
    expect((await get("/api/runs/00000000-0000-0000-0000-000000000000")).status).toBe(404);
  });

  it("shows a run's output: the workflow's `output` from its saved state", async () => {
    const id = await newRun("e-output");
    await db.pool.query(
      `UPDATE skyflow.runs SET status = 'succeeded', started_at = now(), finished_at = now(),
         snapshot = '{"steps": {}, "output": {"greeted": 3, "key": "master-key-for-tests"}}' WHERE id = $1`,
      [id],
    );
    const run = (await (await get(`/api/runs/${id}`)).json()) as Record<string, unknown>;
    expect(run).toMatchObject({ output: { greeted: 3, key: "[redacted]" }, outputFrom: "run" });
  });

  it("says until when a parked run waits, and at which step", async () => {
    const id = await newRun("e-waiting");
    await db.pool.query(
      `UPDATE skyflow.runs SET status = 'waiting', available_at = '2030-01-01T00:00:00Z',
         snapshot = '{"steps": {"wait": {"status": "waiting", "attempts": 1}}}' WHERE id = $1`,
      [id],
    );
    const run = (await (await get(`/api/runs/${id}`)).json()) as Record<string, unknown>;
    expect(run).toMatchObject({
      status: "waiting",
      availableAt: "2030-01-01T00:00:00.000Z",
      steps: { wait: { status: "waiting" } },
    });
  });

  it("says what a sleeping run and a waiting run wait for, from the wait they stored", async () => {
    const sleeper = await newRun("e-sleeping");
    await db.pool.query(
      `UPDATE skyflow.runs SET status = 'sleeping', available_at = '2030-01-01T00:00:00Z',
         wait = '{"kind":"sleep","step":"pause","began":"2029-12-31T00:00:00.000Z","until":"2030-01-01T00:00:00.000Z"}'
       WHERE id = $1`,
      [sleeper],
    );
    const s = (await (await get(`/api/runs/${sleeper}`)).json()) as Record<string, unknown>;
    expect(s.wait).toEqual({
      kind: "sleep",
      step: "pause",
      began: "2029-12-31T00:00:00.000Z",
      until: "2030-01-01T00:00:00.000Z",
    });
    expect(s.extra).not.toHaveProperty("wait");

    const waiter = await newRun("e-waiting-for");
    await parkWaiting(waiter, "master-key-for-tests");
    const w = (await (await get(`/api/runs/${waiter}`)).json()) as Record<string, unknown>;
    expect(w.wait).toMatchObject({
      kind: "wait_for",
      step: "approval",
      until: "2030-01-01T00:00:00.000Z",
      source: "record:approval",
      lookup: 'incoming.record.task == "task/[redacted]"',
    });
    expect(JSON.stringify(w)).not.toContain("master-key-for-tests");
  });

  it("shows the open try of a step that waits as sleeping or waiting, parked or with other branches running", async () => {
    const tries = (id: string) =>
      db.pool.query(
        `INSERT INTO skyflow.step_tries (run_id, step_key, attempt, kind, status, input, output, error, started_at, finished_at)
         VALUES ($1, 'fan', 1, 'parallel', 'running', '{}', NULL, NULL, now(), NULL),
                ($1, 'fan.a.nap', 1, 'sleep', 'running', '{}', NULL, NULL, now(), NULL),
                ($1, 'fan.b.ask', 1, 'wait_for', 'running', '{}', NULL, NULL, now(), NULL),
                ($1, 'fan.c.work', 1, 'sql', 'running', '{}', NULL, NULL, now(), NULL),
                ($1, 'fan.c.done', 1, 'sql', 'succeeded', '{}', '{}', NULL, now(), now())`,
        [id],
      );
    const nap = {
      kind: "sleep",
      step: "fan.a.nap",
      began: "2029-12-31T00:00:00.000Z",
      until: "2030-01-01T00:00:00.000Z",
    };
    const ask = {
      kind: "wait_for",
      step: "fan.b.ask",
      began: "2029-12-31T00:00:00.000Z",
      source: "record:nod",
    };
    const statuses = async (id: string) => {
      const r = (await (await get(`/api/runs/${id}`)).json()) as {
        tries: { stepKey: string; status: string }[];
      };
      return Object.fromEntries(r.tries.map((t) => [t.stepKey, t.status]));
    };
    // Parked inside its parallel: runs.wait names the first due, `inner` every one.
    const parked = await newRun("e-parked-inside");
    await db.pool.query(
      "UPDATE skyflow.runs SET status = 'waiting', started_at = now(), wait = $2::jsonb WHERE id = $1",
      [parked, JSON.stringify({ ...nap, inner: [nap, ask] })],
    );
    await tries(parked);
    expect(await statuses(parked)).toEqual({
      fan: "running",
      "fan.a.nap": "sleeping",
      "fan.b.ask": "waiting",
      "fan.c.work": "running",
      "fan.c.done": "succeeded",
    });
    // Live, a branch still working: the waiting steps' entries in the saved state hold their waits.
    const live = await newRun("e-live-inside");
    const steps = {
      fan: { status: "running", attempts: 1 },
      "fan.a.nap": { status: "running", attempts: 1, park: nap },
      "fan.b.ask": { status: "running", attempts: 1, park: ask },
      "fan.c.work": { status: "running", attempts: 1 },
    };
    await db.pool.query(
      `UPDATE skyflow.runs SET status = 'running', started_at = now(), lease_owner = 'elsewhere',
         snapshot = jsonb_build_object('steps', $2::jsonb) WHERE id = $1`,
      [live, JSON.stringify(steps)],
    );
    await tries(live);
    expect(await statuses(live)).toEqual({
      fan: "running",
      "fan.a.nap": "sleeping",
      "fan.b.ask": "waiting",
      "fan.c.work": "running",
      "fan.c.done": "succeeded",
    });
  });

  it("links a called run to its parent, and lists a parent's children under the calling step's key", async () => {
    const parent = await newRun("e-parent");
    const child = await calledRun(parent, "remind[3].ask");
    await db.pool.query(
      `UPDATE skyflow.runs SET status = 'waiting', started_at = now(), available_at = 'infinity',
         wait = jsonb_build_object('kind', 'call', 'step', 'remind', 'began', '2026-01-01T00:00:00.000Z',
           'child', $2::text, 'workflow', 'daily')
       WHERE id = $1`,
      [parent, child],
    );
    await db.pool.query(
      `UPDATE skyflow.runs SET status = 'sleeping', started_at = now(), available_at = now() + interval '1 hour'
       WHERE id = $1`,
      [child],
    );
    const res = await get(`/api/runs/${parent}`);
    expect(res.status).toBe(200);
    const p = (await res.json()) as {
      children: { id: string; parentStep: string; workflow: string }[];
      wait: unknown;
      availableAt: unknown;
    };
    // Waiting for its child, it has no due time (available_at is infinity).
    expect(p).toMatchObject({ wait: { kind: "call", child }, availableAt: null });
    expect(p.children).toEqual([expect.objectContaining({ id: child, parentStep: "remind[3].ask" })]);
    const c = (await (await get(`/api/runs/${child}`)).json()) as Record<string, unknown>;
    expect(c.parent).toEqual({ run: parent, workflow: "daily", step: "ask" });
  });

  it("shows a workflow with its source, triggers and versions", async () => {
    const wf = (await (await get("/api/workflows/daily")).json()) as Record<string, unknown>;
    expect(wf).toMatchObject({ name: "daily", source: "name: daily\n", paused: false });
    expect((wf.triggers as { text: string }[]).map((t) => t.text)).toContain("record task create");
    const broken = (await (await get("/api/workflows/(w%2Fbad.yaml)")).json()) as Record<string, unknown>;
    expect(broken).toMatchObject({ status: "broken", problems: [{ line: 2, column: 3 }] });
  });
});

describe("dashboard actions", () => {
  it("retries a failed run from its failed step and refuses one that has not failed", async () => {
    const id = await newRun("e-retry");
    expect((await post(`/api/runs/${id}/retry`)).status).toBe(409);
    await db.pool.query("UPDATE skyflow.runs SET status = 'failed', finished_at = now() WHERE id = $1", [id]);
    expect((await post(`/api/runs/${id}/retry`)).status).toBe(200);
    const { rows } = await db.pool.query("SELECT status, attempt FROM skyflow.runs WHERE id = $1", [id]);
    expect(rows[0]).toEqual({ status: "pending", attempt: 2 });
  });

  it("cancels a queued run in the database", async () => {
    const id = await newRun("e-cancel-queued");
    expect((await post(`/api/runs/${id}/cancel`)).status).toBe(200);
    const { rows } = await db.pool.query("SELECT status FROM skyflow.runs WHERE id = $1", [id]);
    expect(rows[0].status).toBe("cancelled");
    expect((await post(`/api/runs/${id}/cancel`)).status).toBe(409);
  });

  it("cancels a waiting run and the runs it called, as skyflow runs cancel does", async () => {
    const parent = await newRun("e-cancel-waiting");
    await parkWaiting(parent, "k");
    const child = await calledRun(parent, "ask");
    const grandchild = await calledRun(child, "deeper");
    const done = await calledRun(parent, "earlier");
    await db.pool.query("UPDATE skyflow.runs SET status = 'succeeded', finished_at = now() WHERE id = $1", [
      done,
    ]);
    const res = await post(`/api/runs/${parent}/cancel`);
    expect(res.status).toBe(200);
    expect(((await res.json()) as { message: string }).message).toBe("cancelled; 2 called run(s) too");
    const { rows } = await db.pool.query(
      "SELECT id, status, error->>'message' AS why FROM skyflow.runs WHERE id = ANY($1)",
      [[parent, child, grandchild, done]],
    );
    const by = Object.fromEntries(rows.map((r) => [r.id, `${r.status}: ${r.why}`]));
    expect(by).toEqual({
      [parent]: "cancelled: cancelled by the dashboard",
      [child]: "cancelled: cancelled by the dashboard",
      [grandchild]: "cancelled: cancelled by the dashboard",
      [done]: "succeeded: null",
    });
    const waits = await db.pool.query("SELECT 1 FROM skyflow.waits WHERE run_id = $1", [parent]);
    expect(waits.rowCount).toBe(0);
  });

  it("asks for the cancel of a run another daemon executes, and that daemon's watcher carries it out", async () => {
    const id = await newRun("e-cancel-elsewhere");
    await db.pool.query("UPDATE skyflow.runs SET status = 'running', lease_owner = 'other' WHERE id = $1", [
      id,
    ]);
    const res = await post(`/api/runs/${id}/cancel`);
    expect(((await res.json()) as { message: string }).message).toContain("cancel requested");
    const flagged = await db.pool.query("SELECT cancel_requested_at FROM skyflow.runs WHERE id = $1", [id]);
    expect(flagged.rows[0].cancel_requested_at).not.toBeNull();
    // The other daemon: its engine holds the run, so its cancel() answers true.
    const asked: string[] = [];
    const other = new CancelWatcher({
      db: db.pool,
      engine: {
        cancel: (r) => {
          asked.push(r);
          return r === id;
        },
        wake: () => {},
      },
      log: silentLogger(),
      intervalMs: 60_000,
    });
    await other.tick();
    other.stop();
    expect(asked).toEqual([id]);
    const after = await db.pool.query("SELECT cancel_requested_at FROM skyflow.runs WHERE id = $1", [id]);
    expect(after.rows[0].cancel_requested_at).toBeNull();
  });

  it("cancels a run this daemon's engine executes without touching the database", async () => {
    const id = await newRun("e-cancel-here");
    await db.pool.query("UPDATE skyflow.runs SET status = 'running', lease_owner = 'me' WHERE id = $1", [id]);
    cancelledHere.push(id);
    expect(((await (await post(`/api/runs/${id}/cancel`)).json()) as { message: string }).message).toBe(
      "cancelled",
    );
  });
});
