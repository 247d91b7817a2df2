// A real database restart under load: the embedded Postgres is stopped for two seconds and started again
// while an application writes records and an engine with its triggers runs their workflow. Every record
// starts one run, and every run finishes.
import { mkdtemp, realpath, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { type EmbeddedPostgres, startEmbeddedPostgres } from "../../src/db/embedded.js";
import { migrate } from "../../src/db/migrate.js";
import { createPool } from "../../src/db/pool.js";
import type { WorkflowDefinition } from "../../src/engine/definition/types.js";
import { createEngine, type Engine } from "../../src/engine/engine.js";
import { startTriggers, type Triggers } from "../../src/engine/triggers/index.js";
import { silentLogger } from "../../src/log.js";
import { catalogOf, poolOnlyClients, probe, step, waitFor } from "./fixtures/defs.js";
import { createRecordTable } from "./triggers/helpers.js";

const APP = "app_restart";
const TASKS = 400;
const cleanup: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const f of cleanup.reverse()) await f().catch(() => {});
});

describe("a database restart under load", () => {
  it("starts one run per record written before, during and after it, and finishes them all", async () => {
    const dir = await mkdtemp(join(tmpdir(), "skyflow-restart-"));
    cleanup.push(async () => {
      const real = await realpath(join(dir, "pg")).catch(() => undefined);
      if (real) await rm(real, { recursive: true, force: true });
      await rm(dir, { recursive: true, force: true });
    });
    let pg: EmbeddedPostgres = await startEmbeddedPostgres({ dir });
    cleanup.push(() => pg.stop());
    const pool = createPool(pg.url, { max: 10 });
    const app = createPool(pg.url, { max: 2, applicationName: "app" });
    cleanup.push(
      () => pool.end(),
      () => app.end(),
    );
    await migrate(pool);
    await createRecordTable(pool, APP, "task");

    const p = probe();
    const wf: WorkflowDefinition = {
      name: "on_task",
      file: "workflows/on_task.yaml",
      enabled: true,
      version: "v1",
      source: "",
      triggers: [{ kind: "record", type: "task", database: "_public", events: ["create"] }],
      steps: [step("probe", { key: "seen" }), step("probe", { key: "after" })],
      onFailure: [],
    };
    const catalog = catalogOf([wf]);
    const log = silentLogger();
    const engine: Engine = createEngine({
      pool,
      catalog,
      clients: poolOnlyClients(pool),
      log,
      stepKinds: { probe: p.kind },
      pollMs: 200,
      leaseMs: 1500,
    });
    await engine.start();
    cleanup.push(() => engine.stop({ graceMs: 0 }));
    const triggers: Triggers = await startTriggers({
      pool,
      catalog,
      appSchema: APP,
      wake: () => engine.wake(),
      handoff: engine.handoff(),
      log,
      pollMs: 200,
    });
    cleanup.push(() => triggers.stop());

    // The application retries a write that fails while the database is down; a retry that finds its rows
    // already there (the commit landed, its answer was lost) is done.
    let written = 0;
    const write = async (upTo: number) => {
      while (written < upTo) {
        const ids = Array.from({ length: 10 }, (_, i) => `t${written + i}`);
        try {
          await app.query(
            `INSERT INTO ${APP}.task (_id, _database_id, _owner_id, _created_at, _created_by, _updated_at, _updated_by)
             SELECT id, '', 'u1', now(), 'u1', now(), 'u1' FROM unnest($1::text[]) id ON CONFLICT DO NOTHING`,
            [ids],
          );
          written += ids.length;
        } catch {
          // The database is restarting: try the same rows again.
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    const writing = write(TASKS);
    await waitFor(() => p.tries("after") >= 50, 20_000);
    await pg.stop();
    await new Promise((r) => setTimeout(r, 2000));
    pg = await startEmbeddedPostgres({ dir });
    await writing;
    const succeeded = async () =>
      Number(
        (
          await pool.query("SELECT count(*) AS n FROM skyflow.runs WHERE status = 'succeeded'").catch(() => ({
            rows: [{ n: -1 }],
          }))
        ).rows[0].n,
      );
    await waitFor(async () => (await succeeded()) === TASKS, 60_000);
    const { rows } = await pool.query(
      `SELECT count(*)::int AS n, count(DISTINCT event->'record'->>'_id')::int AS tasks FROM skyflow.runs`,
    );
    expect(rows[0]).toEqual({ n: TASKS, tasks: TASKS });
    expect(p.tries("after")).toBeGreaterThanOrEqual(TASKS);
  }, 120_000);
});
