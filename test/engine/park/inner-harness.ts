// Shared by the inner-* tests (waits inside foreach and parallel) and the waker test: a database, the
// Skygear-compatible server, workflows loaded from YAML, engines and the record trigger started and stopped
// by the test, and reads of the runs and waits tables.
import { expect } from "vitest";
import { loadWorkflowSource } from "../../../src/engine/definition/load.js";
import { createEngine, type Engine } from "../../../src/engine/engine.js";
import { startTriggers, type Triggers } from "../../../src/engine/triggers/index.js";
import { SkygearContainer } from "../../../src/skygear/container.js";
import { createInProcessTransport } from "../../../src/skygear/transport-inprocess.js";
import { createTestDatabase, type TestDatabase } from "../../helpers/db.js";
import { capturedLogger } from "../../helpers/log.js";
import { startTestServer, TEST_MASTER_KEY, type TestServer } from "../../helpers/server.js";
import { catalogOf } from "../fixtures/defs.js";

export interface Harness {
  db: TestDatabase;
  srv: TestServer;
  container: SkygearContainer;
  /** The workflows as loaded, and what an engine of this harness is created with. */
  catalog: ReturnType<typeof catalogOf>;
  clients: Parameters<typeof createEngine>[0]["clients"];
  engines: Engine[];
  triggers: Triggers[];
  /** Starts an engine (owner: its name) polling every `pollMs`. */
  engine(owner: string, pollMs?: number): Promise<Engine>;
  /** Starts the record trigger (it releases waiting runs as changes arrive). */
  trigger(): Promise<Triggers>;
  save(records: unknown[]): Promise<unknown>;
  row(
    id: string,
  ): Promise<{ status: string; wait: Record<string, unknown> | null; lease_owner: string | null }>;
  waits(id: string): Promise<{ step_key: string; key: string; inner_step: boolean; event: unknown }[]>;
  close(): Promise<void>;
}

export async function startHarness(name: string, yamls: string[]): Promise<Harness> {
  const db = await createTestDatabase(name);
  const srv = await startTestServer(db.pool);
  const defs = yamls.map((y) => {
    const wf = /name: (\S+)/.exec(y)![1]!;
    const r = loadWorkflowSource(`workflows/${wf}.yaml`, y);
    expect(r.problems).toEqual([]);
    return r.workflow!;
  });
  const catalog = catalogOf(defs);
  const container = new SkygearContainer({
    transport: createInProcessTransport(srv.handler),
    apiKey: TEST_MASTER_KEY,
  });
  const clients = {
    skygear: container,
    pool: db.pool,
    appSchema: srv.config.schema,
    pubsub: { publish: async () => {} },
  };
  const { log } = capturedLogger("warn");
  const h: Harness = {
    db,
    srv,
    container,
    catalog,
    clients,
    engines: [],
    triggers: [],
    async engine(owner, pollMs = 200) {
      const e = createEngine({ pool: db.pool, catalog, clients, log, pollMs, owner });
      await e.start();
      h.engines.push(e);
      return e;
    },
    async trigger() {
      const t = await startTriggers({
        pool: db.pool,
        catalog,
        appSchema: srv.config.schema,
        wake: () => {
          for (const e of h.engines) e.wake();
        },
        log,
        pollMs: 200,
      });
      h.triggers.push(t);
      return t;
    },
    save: (records) => container.sendAction("record:save", { database_id: "_public", records }),
    async row(id) {
      const { rows } = await db.pool.query(
        "SELECT status, wait, lease_owner FROM skyflow.runs WHERE id = $1",
        [id],
      );
      return rows[0];
    },
    async waits(id) {
      const { rows } = await db.pool.query(
        "SELECT step_key, key, inner_step, event FROM skyflow.waits WHERE run_id = $1 ORDER BY step_key",
        [id],
      );
      return rows;
    },
    async close() {
      for (const t of h.triggers.splice(0)) await t.stop();
      for (const e of h.engines.splice(0)) await e.stop({ graceMs: 0 });
      await srv.close();
      await db.drop();
    },
  };
  return h;
}

/** Polls `fn` until `ok` holds (or `ms` pass: the caller's expect then fails with the last value). */
export async function until<T>(fn: () => Promise<T>, ok: (v: T) => boolean, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (ok(v) || Date.now() > end) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A manual event for `engine.trigger` of a workflow on `call`. */
export const input = (i: unknown) => ({ type: "call", input: i }) as never;
