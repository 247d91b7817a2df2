// The one LISTEN module (src/engine/listen.ts) and its two users, the engine and the record trigger, against
// a real server: a terminated backend is replaced and every channel LISTENed again; what was notified while
// no connection listened is found by the consumer's re-check on reconnect (the safety-net polls are set to a
// minute, so nothing else can find it in time); a connection that stops answering is replaced. Only this
// file's own backends are terminated, by pid or by a name unique to it, in its own database.
import { randomBytes } from "node:crypto";
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPool } from "../../src/db/pool.js";
import { createEngine, type Engine } from "../../src/engine/engine.js";
import { listen, listenHub } from "../../src/engine/listen.js";
import { enqueueRuns } from "../../src/engine/store/enqueue.js";
import { recordVersion } from "../../src/engine/store/versions.js";
import { startTriggers } from "../../src/engine/triggers/index.js";
import { silentLogger } from "../../src/log.js";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { type TcpProxy, tcpProxy } from "../helpers/proxy.js";
import { catalogOf, poolOnlyClients, probe, step, workflow } from "./fixtures/defs.js";
import {
  catalog,
  countRuns,
  createRecordTable,
  insertRecord,
  workflow as triggerWorkflow,
  waitFor,
} from "./triggers/helpers.js";

const APP = "app_listen";
let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase("listen");
  await createRecordTable(db.pool, APP, "task");
});
afterAll(async () => {
  await db.drop();
});

const uniqueName = () => `skyflow-listen-test-${randomBytes(4).toString("hex")}`;

/** The backends of `name` connected to this file's database. */
const pidsOf = async (name: string) =>
  (
    await db.pool.query<{ pid: number }>(
      "SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND datname = current_database()",
      [name],
    )
  ).rows.map((r) => r.pid);

/** A consumer of the module that records what it receives. */
function recorder() {
  const got: string[] = [];
  let listening = 0;
  return {
    got,
    listening: () => listening,
    options: {
      onNotify: (channel: string, payload: string | undefined) => got.push(`${channel}:${payload ?? ""}`),
      onListening: () => void listening++,
      log: silentLogger(),
    },
  };
}

/** A proxy to the test server that can go away (connections cut, new ones refused) and come back on its port. */
async function outage(): Promise<{
  url: string;
  down(): Promise<void>;
  up(): Promise<void>;
  close(): Promise<void>;
}> {
  const u = new URL(db.url);
  const target = Number(u.port || 5432);
  const host = u.hostname === "localhost" ? "127.0.0.1" : u.hostname;
  let proxy: TcpProxy | undefined = await tcpProxy(target, host);
  const port = proxy.port;
  u.hostname = "127.0.0.1";
  u.port = String(port);
  return {
    url: u.toString(),
    async down() {
      await proxy?.close();
      proxy = undefined;
    },
    async up() {
      proxy = await tcpProxy(target, host, port);
    },
    async close() {
      await proxy?.close();
    },
  };
}

describe("listen", () => {
  it("LISTENs on every channel again after its backend is terminated, and says so", async () => {
    const name = uniqueName();
    const r = recorder();
    const l = listen({ connection: db.pool.options, channels: ["lt_a", "lt_b"], name, ...r.options });
    try {
      await l.ready;
      expect(r.listening()).toBe(1);
      await db.pool.query("SELECT pg_notify('lt_a', '1'), pg_notify('lt_b', '1')");
      await waitFor(
        async () => r.got.length,
        (n) => n === 2,
      );
      const [first] = await pidsOf(name);
      expect(first).toBeDefined();
      await db.pool.query("SELECT pg_terminate_backend($1)", [first]);
      await waitFor(
        async () => r.listening(),
        (n) => n === 2,
      );
      const second = await pidsOf(name);
      expect(second).toHaveLength(1);
      expect(second[0]).not.toBe(first);
      await db.pool.query("SELECT pg_notify('lt_a', '2'), pg_notify('lt_b', '2')");
      await waitFor(
        async () => r.got.length,
        (n) => n === 4,
      );
      expect(r.got.sort()).toEqual(["lt_a:1", "lt_a:2", "lt_b:1", "lt_b:2"]);
    } finally {
      await l.close();
    }
    // Closed: the connection is gone, and no reconnect brings it back.
    await new Promise((res) => setTimeout(res, 300));
    expect(await pidsOf(name)).toEqual([]);
  });

  it("a hub serves its consumers from one connection: each its own channels, each told after a reconnect", async () => {
    const name = uniqueName();
    const hub = listenHub({
      connection: db.pool.options,
      name,
      log: silentLogger(),
      setup: ["SET work_mem = '5MB'"],
    });
    const a = recorder();
    const b = recorder();
    const la = hub.listen({ connection: db.pool.options, channels: ["lh_a"], ...a.options });
    await la.ready;
    expect(() =>
      hub.listen({ connection: db.pool.options, channels: ["lh_x"], setup: ["SET x = 1"], ...b.options }),
    ).toThrow(/setup/);
    // Joins the connection open already: its channel LISTENed then, and it is told so.
    const lb = hub.listen({ connection: db.pool.options, channels: ["lh_b"], ...b.options });
    try {
      await lb.ready;
      expect([a.listening(), b.listening()]).toEqual([1, 1]);
      expect(await pidsOf(name)).toHaveLength(1);
      expect(((await la.client()!.query("SHOW work_mem")).rows[0] as { work_mem: string }).work_mem).toBe(
        "5MB",
      );
      await db.pool.query("SELECT pg_notify('lh_a', '1'), pg_notify('lh_b', '1')");
      await waitFor(
        async () => a.got.length + b.got.length,
        (n) => n === 2,
      );
      expect([a.got, b.got]).toEqual([["lh_a:1"], ["lh_b:1"]]);
      const [first] = await pidsOf(name);
      await db.pool.query("SELECT pg_terminate_backend($1)", [first]);
      await waitFor(
        async () => [a.listening(), b.listening()].join(),
        (n) => n === "2,2",
      );
      await db.pool.query("SELECT pg_notify('lh_a', '2'), pg_notify('lh_b', '2')");
      await waitFor(
        async () => a.got.length + b.got.length,
        (n) => n === 4,
      );
      expect([a.got, b.got]).toEqual([
        ["lh_a:1", "lh_a:2"],
        ["lh_b:1", "lh_b:2"],
      ]);
      // One consumer closed: the other keeps the connection, and hears on.
      await la.close();
      expect(la.client()).toBeUndefined();
      await db.pool.query("SELECT pg_notify('lh_a', '3'), pg_notify('lh_b', '3')");
      await waitFor(
        async () => b.got.length,
        (n) => n === 3,
      );
      expect(a.got).toHaveLength(2);
      expect(await pidsOf(name)).toHaveLength(1);
    } finally {
      await la.close();
      await lb.close();
    }
    // The last one closed: the connection is gone.
    await new Promise((res) => setTimeout(res, 300));
    expect(await pidsOf(name)).toEqual([]);
  });

  it("keeps trying while the server is away, and reconnects when it is back", async () => {
    const o = await outage();
    const name = uniqueName();
    const r = recorder();
    const l = listen({ connection: { connectionString: o.url }, channels: ["lt_c"], name, ...r.options });
    try {
      await l.ready;
      await o.down();
      await waitFor(
        async () => l.client(),
        (c) => c === undefined,
      );
      // Sent while nobody listens: lost, as NOTIFYs are; the consumer hears that it must look again.
      await db.pool.query("SELECT pg_notify('lt_c', 'missed')");
      await new Promise((res) => setTimeout(res, 500));
      expect(r.listening()).toBe(1);
      await o.up();
      await waitFor(
        async () => r.listening(),
        (n) => n === 2,
        8_000,
      );
      expect(r.got).toEqual([]);
      await db.pool.query("SELECT pg_notify('lt_c', 'after')");
      await waitFor(
        async () => r.got,
        (g) => g.length === 1,
      );
      expect(r.got).toEqual(["lt_c:after"]);
    } finally {
      await l.close();
      await o.close();
    }
  });

  it("replaces a connection that stops answering (a partition) found by its ping", async () => {
    const u = new URL(db.url);
    const proxy = await tcpProxy(Number(u.port || 5432));
    u.hostname = "127.0.0.1";
    u.port = String(proxy.port);
    const name = uniqueName();
    const r = recorder();
    const l = listen({
      connection: { connectionString: u.toString(), connectionTimeoutMillis: 500 },
      channels: ["lt_d"],
      name,
      pingMs: 100,
      pingTimeoutMs: 300,
      ...r.options,
    });
    try {
      await l.ready;
      const before = l.client();
      expect(before).toBeDefined();
      proxy.freeze();
      // No error, no end: only the unanswered ping tells.
      await waitFor(
        async () => l.client(),
        (c) => c === undefined,
        5_000,
      );
    } finally {
      const t0 = Date.now();
      await l.close();
      // close() does not wait for a server that cannot answer.
      expect(Date.now() - t0).toBeLessThan(5_000);
      await proxy.close();
    }
  });

  it("refuses a channel name it would have to quote", () => {
    expect(() =>
      listen({ connection: db.pool.options, channels: ["bad; DROP TABLE x"], ...recorder().options }),
    ).toThrow(/bad LISTEN channel/);
  });
});

describe("the engine's LISTEN", () => {
  it("claims runs queued while its connection was away, once it is back (no poll in between)", async () => {
    const o = await outage();
    const pool: pg.Pool = createPool(o.url, { max: 4, connectTimeoutMs: 500 });
    const p = probe();
    const wf = workflow("lt_engine", [step("probe", { key: "x" }, { id: "x" })]);
    const e: Engine = createEngine({
      pool,
      catalog: catalogOf([wf]),
      clients: poolOnlyClients(pool),
      log: silentLogger(),
      stepKinds: { probe: p.kind },
      pollMs: 60_000,
    });
    try {
      await e.start();
      await recordVersion(db.pool, wf);
      await o.down();
      // Another process queues a run and notifies: nobody of this engine hears it.
      await enqueueRuns(db.pool, [
        {
          workflow: "lt_engine",
          version: wf.version,
          event: { id: "lt-1", type: "manual", at: new Date().toISOString() },
        },
      ]);
      await db.pool.query("NOTIFY skyflow_runs");
      await new Promise((res) => setTimeout(res, 300));
      await o.up();
      const status = async () =>
        (
          await db.pool.query<{ status: string }>(
            "SELECT status FROM skyflow.runs WHERE workflow = 'lt_engine'",
          )
        ).rows[0]?.status;
      expect(await waitFor(status, (s) => s === "succeeded", 10_000)).toBe("succeeded");
      expect(p.tries("x")).toBe(1);
    } finally {
      await e.stop({ graceMs: 0 });
      await o.close();
      await pool.end();
    }
  });
});

describe("the record trigger's LISTEN", () => {
  const wfs = () =>
    catalog([
      triggerWorkflow("lt_rec", [{ kind: "record", type: "task", database: "_public", events: ["create"] }]),
    ]);

  it("delivers changes promptly after its backend is terminated", async () => {
    const t = await startTriggers({
      pool: db.pool,
      catalog: wfs(),
      appSchema: APP,
      wake: () => {},
      log: silentLogger(),
      pollMs: 60_000,
    });
    try {
      const first = await waitFor(
        () => pidsOf("skyflow-listen"),
        (p) => p.length === 1,
      );
      await insertRecord(db.pool, APP, "task", "before");
      await waitFor(
        () => countRuns(db.pool, "lt_rec"),
        (n) => n === 1,
        3_000,
      );
      await db.pool.query("SELECT pg_terminate_backend($1)", [first[0]]);
      // Inserted at once: while the connection is down or just back; either way the run starts promptly.
      await insertRecord(db.pool, APP, "task", "during");
      const second = await waitFor(
        () => pidsOf("skyflow-listen"),
        (p) => p.length === 1 && p[0] !== first[0],
        5_000,
      );
      expect(second).toHaveLength(1);
      await insertRecord(db.pool, APP, "task", "after");
      expect(
        await waitFor(
          () => countRuns(db.pool, "lt_rec"),
          (n) => n === 3,
          3_000,
        ),
      ).toBe(3);
    } finally {
      await t.stop();
    }
  });

  it("starts the runs of changes made while its connection was away, once it is back", async () => {
    await db.pool.query("DELETE FROM skyflow.runs WHERE workflow = 'lt_rec'");
    const o = await outage();
    const pool = createPool(o.url, { max: 4, connectTimeoutMs: 500 });
    const t = await startTriggers({
      pool,
      catalog: wfs(),
      appSchema: APP,
      wake: () => {},
      log: silentLogger(),
      pollMs: 60_000,
    });
    try {
      await waitFor(
        async () =>
          (await db.pool.query("SELECT armed FROM skyflow.record_wake WHERE id = 1")).rows[0]?.armed,
        (armed) => armed === true,
      );
      await o.down();
      // The wake flag is up (this driver raised it): the writer notifies, and nobody hears it.
      await insertRecord(db.pool, APP, "task", "while-away");
      await new Promise((res) => setTimeout(res, 300));
      expect(await countRuns(db.pool, "lt_rec")).toBe(0);
      await o.up();
      expect(
        await waitFor(
          () => countRuns(db.pool, "lt_rec"),
          (n) => n === 1,
          10_000,
        ),
      ).toBe(1);
    } finally {
      await t.stop();
      await o.close();
      await pool.end();
    }
  });
});
