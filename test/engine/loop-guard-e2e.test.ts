// The loop guard end to end: the real engine runs a workflow whose save step saves the record that started
// it, through the Skygear-compatible server, while the real record trigger watches that type.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadWorkflowSource } from "../../src/engine/definition/load.js";
import { createEngine, type Engine } from "../../src/engine/engine.js";
import { startTriggers, type Triggers } from "../../src/engine/triggers/index.js";
import { SkygearContainer } from "../../src/skygear/container.js";
import { createInProcessTransport } from "../../src/skygear/transport-inprocess.js";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { capturedLogger } from "../helpers/log.js";
import { startTestServer, TEST_MASTER_KEY, type TestServer } from "../helpers/server.js";
import { catalogOf } from "./fixtures/defs.js";

const YAML = `name: bump
on:
  record:
    type: counter
    events: [create, update]
steps:
  - save:
      record:
        _id: \${{ event.record._id }}
        n: \${{ event.record.n + 1.0 }}
`;

let db: TestDatabase;
let srv: TestServer;
let engine: Engine;
let triggers: Triggers;
let container: SkygearContainer;
const { log, lines } = capturedLogger("warn");

beforeAll(async () => {
  db = await createTestDatabase("loop_guard_e2e");
  srv = await startTestServer(db.pool);
  const loaded = loadWorkflowSource("workflows/bump.yaml", YAML);
  expect(loaded.problems).toEqual([]);
  const catalog = catalogOf([loaded.workflow!]);
  container = new SkygearContainer({
    transport: createInProcessTransport(srv.handler),
    apiKey: TEST_MASTER_KEY,
  });
  const clients = {
    skygear: container,
    pool: db.pool,
    appSchema: srv.config.schema,
    pubsub: { publish: async () => {} },
  };
  engine = createEngine({ pool: db.pool, catalog, clients, log, pollMs: 200 });
  await engine.start();
  triggers = await startTriggers({
    pool: db.pool,
    catalog,
    appSchema: srv.config.schema,
    wake: () => engine.wake(),
    log,
    loopDepth: 3,
    pollMs: 200,
  });
});
afterAll(async () => {
  await triggers?.stop();
  await engine?.stop({ graceMs: 0 });
  await srv?.close();
  await db?.drop();
});

interface Run {
  depth: number;
  status: string;
}

async function runs(): Promise<Run[]> {
  const { rows } = await db.pool.query<Run>(
    "SELECT depth, status FROM skyflow.runs WHERE workflow = 'bump' ORDER BY depth, created_at",
  );
  return rows;
}

async function until<T>(fn: () => Promise<T>, ok: (v: T) => boolean, ms = 15_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (ok(v) || Date.now() > end) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const warned = () => lines.some((l) => l.includes("loop guard"));

describe("loop guard, end to end", () => {
  it("stops a workflow that saves the record it watches after loopDepth + 1 runs, and warns", async () => {
    await container.sendAction("record:save", {
      database_id: "_public",
      records: [{ _id: "counter/c1", n: 0 }],
    });
    const done = (rs: Run[]) => rs.length >= 4 && rs.every((r) => r.status === "succeeded") && warned();
    const settled = await until(runs, done);
    expect(settled).toEqual([0, 1, 2, 3].map((depth) => ({ depth, status: "succeeded" })));
    const guard = JSON.parse(lines.find((l) => l.includes("loop guard"))!);
    expect(guard).toMatchObject({ level: 40, workflow: "bump", record: "counter/c1", depth: 4, max: 3 });

    const fetched = (await container.sendAction("record:fetch", {
      database_id: "_public",
      ids: ["counter/c1"],
    })) as { n: number }[];
    expect(fetched[0]!.n).toBe(4);

    // No loop behind the guard: well past the trigger's and the engine's polls, nothing new starts.
    await sleep(1500);
    expect(await runs()).toHaveLength(4);
    const { rows } = await db.pool.query("SELECT count(*)::int AS n FROM skyflow.record_outbox");
    expect(rows[0].n).toBe(0);
  });
});
