import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadWorkflowSource } from "../../src/engine/definition/load.js";
import type { WorkflowDefinition } from "../../src/engine/definition/types.js";
import { createEngine } from "../../src/engine/engine.js";
import { silentLogger } from "../../src/log.js";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { catalogOf, poolOnlyClients } from "./fixtures/defs.js";

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase("engine_versions");
  await db.pool.query("CREATE TABLE public.version_log (v text NOT NULL)");
});
afterAll(async () => {
  await db.drop();
});

function version(tag: string): WorkflowDefinition {
  const text = [
    "name: evolving",
    "on: { pubsub: { channel: c } }",
    "steps:",
    `  - sql: { statement: "INSERT INTO public.version_log (v) VALUES ('${tag}')" }`,
    "",
  ].join("\n");
  const r = loadWorkflowSource("workflows/evolving.yaml", text);
  if (!r.workflow) throw new Error(JSON.stringify(r.problems));
  return r.workflow;
}

describe("workflow versions", () => {
  it("runs a queued run on the version it started with, recompiled from the stored text", async () => {
    const v1 = version("v1");
    const v2 = version("v2");
    expect(v1.version).not.toBe(v2.version);
    const opts = { pool: db.pool, clients: poolOnlyClients(db.pool), log: silentLogger(), pollMs: 100 };
    const old = createEngine({ ...opts, catalog: catalogOf([v1]) });
    const { runId } = await old.trigger("evolving");
    await old.stop();
    const current = createEngine({ ...opts, catalog: catalogOf([v2]) });
    await current.start();
    try {
      const run = await current.waitForRun(runId);
      expect(run.status).toBe("succeeded");
      expect(run.version).toBe(v1.version);
      const { rows } = await db.pool.query("SELECT v FROM public.version_log");
      expect(rows).toEqual([{ v: "v1" }]);
    } finally {
      await current.stop();
    }
  });
});
