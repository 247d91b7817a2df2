// A run whose last step parks (sleep, call) returns its top-level `output` once it resumes and ends, and a
// parent's call of it gets that output, not the parked step's wake value.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runOutput } from "../../../src/commands/runs-format.js";
import { loadWorkflowSource } from "../../../src/engine/definition/load.js";
import { createEngine, type Engine } from "../../../src/engine/engine.js";
import { SkygearContainer } from "../../../src/skygear/container.js";
import { createInProcessTransport } from "../../../src/skygear/transport-inprocess.js";
import { createTestDatabase, type TestDatabase } from "../../helpers/db.js";
import { capturedLogger } from "../../helpers/log.js";
import { startTestServer, TEST_MASTER_KEY, type TestServer } from "../../helpers/server.js";
import { catalogOf } from "../fixtures/defs.js";

// The last step sleeps past parkAfterMs, so the run parks and ends in a resumed claim.
const NAPPER = `name: napper
on: { call: {} }
steps:
  - id: first
    sql: { statement: "SELECT $1::text AS n", params: ["\${{ event.input.n }}"] }
  - id: nap
    sleep: 1200ms
output:
  n: \${{ steps.first.output.rows[0].n }}
  napped: \${{ steps.nap.output.slept_ms >= 1000 }}
`;
// Without a top-level output, the run returns its last step's output: the sleep's own.
const BARENAP = `name: barenap
on: { call: {} }
steps:
  - sql: { statement: "SELECT 1 AS one" }
  - id: nap
    sleep: 1200ms
`;
const CALLER = `name: caller
on: { call: {} }
steps:
  - id: c
    call: { workflow: napper, input: { n: "\${{ event.input.n }}" } }
output:
  child: \${{ steps.c.output }}
`;

let db: TestDatabase;
let srv: TestServer;
let engine: Engine;
const { log } = capturedLogger("warn");

beforeAll(async () => {
  db = await createTestDatabase("park_output");
  srv = await startTestServer(db.pool);
  const wfs = [NAPPER, BARENAP, CALLER].map((y) => {
    const name = /name: (\S+)/.exec(y)![1]!;
    const r = loadWorkflowSource(`workflows/${name}.yaml`, y);
    expect(r.problems).toEqual([]);
    return r.workflow!;
  });
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
  engine = createEngine({
    pool: db.pool,
    catalog: catalogOf(wfs),
    clients,
    log,
    pollMs: 200,
    parkAfterMs: 100,
  });
  await engine.start();
});
afterAll(async () => {
  await engine?.stop({ graceMs: 0 });
  await srv?.close();
  await db?.drop();
});

describe("a run whose last step parks", () => {
  it("returns its top-level output, and its caller's call step gets that output", async () => {
    const { runId } = await engine.trigger("caller", { type: "call", input: { n: "5" } } as never);
    const run = await engine.waitForRun(runId, 30_000);
    expect(run.status).toBe("succeeded");
    const want = { n: "5", napped: true };
    expect(run.tries.find((t) => t.stepKey === "c")!.output).toEqual(want);
    expect(runOutput(run)).toEqual({ child: want });
    const { rows } = await db.pool.query("SELECT id, wait FROM skyflow.runs WHERE workflow = 'napper'");
    const child = await engine.waitForRun(rows[0].id, 1000);
    expect(child.status).toBe("succeeded");
    expect((child.snapshot as { output?: unknown }).output).toEqual(want);
    expect(runOutput(child)).toEqual(want);
    // It did park on its sleep (and so ended in a resumed claim).
    const nap = child.tries.find((t) => t.stepKey === "nap")!;
    expect((nap.output as { slept_ms: number }).slept_ms).toBeGreaterThanOrEqual(1000);
  });

  it("without a top-level output returns its last (parked) step's output", async () => {
    const { runId } = await engine.trigger("barenap", { type: "call", input: {} } as never);
    const run = await engine.waitForRun(runId, 30_000);
    expect(run.status).toBe("succeeded");
    expect((run.snapshot as { returnsStep?: string }).returnsStep).toBe("nap");
    expect((runOutput(run) as { slept_ms: number }).slept_ms).toBeGreaterThanOrEqual(1000);
  });
});
