// A run stored before run ids and uuid() values became version-5 UUIDs resumes after the upgrade with the
// values it began with: its interrupted save re-derives the same record id, so the record is saved again,
// not made twice.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { appSchemaName } from "../../src/config.js";
import { createEngine } from "../../src/engine/engine.js";
import { legacyRunIdFor, legacyUuid, stepUuid } from "../../src/engine/ids.js";
import { markRunning, newRunState } from "../../src/engine/state.js";
import { snapshotJSON } from "../../src/engine/store/save.js";
import { recordVersion } from "../../src/engine/store/versions.js";
import { silentLogger } from "../../src/log.js";
import { createContainer } from "../../src/skygear/container.js";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { startTestServer, TEST_APP_NAME, TEST_MASTER_KEY, type TestServer } from "../helpers/server.js";
import { catalogOf, step, workflow } from "./fixtures/defs.js";

let db: TestDatabase;
let server: TestServer;
const schema = appSchemaName(TEST_APP_NAME);

beforeAll(async () => {
  db = await createTestDatabase("engine_legacy_ids");
  server = await startTestServer(db.pool);
});
afterAll(async () => {
  await server?.close();
  await db?.drop();
});

describe("a run stored with the legacy ids", () => {
  it("resumes its interrupted save with the uuid() value it began with: one record", async () => {
    const wf = workflow("legacy", [
      step("save", { record: { _id: "note/${{ uuid() }}", title: "made once" } }, { id: "two" }),
    ]);
    await recordVersion(db.pool, wf);
    const runId = legacyRunIdFor("legacy", "ev-legacy");
    const oldKey = legacyUuid(`${runId}:two`, 0);
    expect(stepUuid(runId, `${runId}:two`, 0)).toBe(oldKey);
    // Its engine died after the save's record was written and before the try's success was saved.
    const state = markRunning(newRunState(new Date().toISOString()), "two", 1);
    await db.pool.query(
      `INSERT INTO skyflow.runs (id, workflow, version, event_id, event, status, snapshot, lease_owner,
                                 lease_until, started_at)
       VALUES ($1, 'legacy', $2, 'ev-legacy', '{"id": "ev-legacy", "type": "manual", "at": ""}', 'running',
               $3::jsonb, 'engine-before-upgrade', now() - interval '1 minute', now())`,
      [runId, wf.version, snapshotJSON(state)],
    );
    await db.pool.query(
      `INSERT INTO skyflow.step_tries (run_id, step_key, attempt, kind, status, input)
       VALUES ($1, 'two', 1, 'save', 'running', '{}')`,
      [runId],
    );
    const skygear = createContainer({ endpoint: server.url, masterKey: TEST_MASTER_KEY });
    await skygear.save([{ _id: `note/${oldKey}`, title: "made once" }]);

    const engine = createEngine({
      pool: db.pool,
      catalog: catalogOf([wf]),
      clients: { skygear, pool: db.pool, appSchema: schema, pubsub: { publish: async () => {} } },
      log: silentLogger(),
      pollMs: 100,
    });
    await engine.start();
    try {
      const run = await engine.waitForRun(runId, 20_000);
      expect(run.status).toBe("succeeded");
      const saved = run.tries.find((t) => t.stepKey === "two" && t.status === "succeeded");
      expect(saved?.output).toMatchObject({ record: { _id: `note/${oldKey}` } });
      const notes = await db.pool.query(`SELECT _id FROM ${schema}.note`);
      expect(notes.rows).toEqual([{ _id: oldKey }]);
    } finally {
      await engine.stop({ graceMs: 0 });
      await skygear.transport.close?.();
    }
  });
});
