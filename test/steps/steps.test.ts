import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { appSchemaName } from "../../src/config.js";
import { createPool } from "../../src/db/pool.js";
import { loadWorkflowSource } from "../../src/engine/definition/load.js";
import { stepKinds } from "../../src/engine/step-kinds.js";
import { FatalStepError, type StepError } from "../../src/errors.js";
import { silentLogger } from "../../src/log.js";
import { createContainer, type SkygearContainer } from "../../src/skygear/container.js";
import { createPubsubClient, type PubsubClient } from "../../src/skygear/pubsub.js";
import { classifyError } from "../../src/steps/classify.js";
import type { StepClients } from "../../src/steps/types.js";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";
import {
  startTestServer,
  TEST_API_KEY,
  TEST_APP_NAME,
  TEST_MASTER_KEY,
  type TestServer,
} from "../helpers/server.js";
import { waitFor } from "../helpers/wait.js";

let db: TestDatabase;
let server: TestServer;
let container: SkygearContainer;
let pubsub: PubsubClient;
let listener: PubsubClient;
let clients: StepClients;
const schema = appSchemaName(TEST_APP_NAME);

beforeAll(async () => {
  db = await createTestDatabase("steps");
  server = await startTestServer(db.pool);
  container = createContainer({ endpoint: server.url, masterKey: TEST_MASTER_KEY });
  pubsub = createPubsubClient({ endpoint: server.url, apiKey: TEST_API_KEY });
  listener = createPubsubClient({ endpoint: server.url, apiKey: TEST_API_KEY });
  clients = { skygear: container, pool: db.pool, appSchema: schema, pubsub };
});
afterAll(async () => {
  await pubsub.close();
  await listener.close();
  await container.transport.close?.();
  await server.close();
  await db.drop();
});

function run(kind: string, input: unknown, signal = new AbortController().signal, attempt = 1) {
  return stepKinds[kind]!.run({
    input,
    signal,
    attempt,
    idempotencyKey: "r:s",
    log: silentLogger(),
    clients,
  });
}

async function failure(p: Promise<unknown>): Promise<StepError> {
  try {
    await p;
  } catch (err) {
    return classifyError(err);
  }
  throw new Error("expected the step to fail");
}

describe("step kinds against the Skygear-compatible server", () => {
  it("save writes a record as the given user (user/ prefix dropped) and returns it", async () => {
    const out = (await run("save", {
      as: "user/alice",
      record: { _id: "task/t1", title: "Report", status: "open", priority: 4 },
    })) as { record: Record<string, unknown> };
    expect(out.record._id).toBe("task/t1");
    expect(out.record._ownerID).toBe("alice");
    await run("save", {
      records: [
        { _id: "task/t2", title: "Minor", status: "open", priority: 1 },
        { _id: "task/t3", title: "Done", status: "closed", priority: 5 },
      ],
      atomic: true,
    });
  });

  it("save fails the step with a per-record error from the server", async () => {
    const err = await failure(run("save", { records: [{ _id: "task/bad", when: { $type: "nonsense" } }] }));
    expect(err.errorName).toBe("InvalidArgument");
    expect(err.retryable).toBe(false);
  });

  it("query turns the short where and sort forms into predicates and returns records and count", async () => {
    const out = (await run("query", {
      type: "task",
      where: { status: "open", priority: { gte: 1 }, or: [{ title: { like: "Rep%" } }, { title: "Minor" }] },
      sort: ["-priority"],
      count: true,
    })) as { records: { _id: string }[]; count: number };
    expect(out.records.map((r) => r._id)).toEqual(["task/t1", "task/t2"]);
    expect(out.count).toBe(2);
    const notOpen = (await run("query", { type: "task", where: { not: { status: "open" } } })) as {
      records: { _id: string }[];
    };
    expect(notOpen.records.map((r) => r._id)).toEqual(["task/t3"]);
    const raw = (await run("query", {
      type: "task",
      where: ["in", { $type: "keypath", $val: "priority" }, [1, 5]],
      sort: ["title"],
      limit: 1,
    })) as { records: { _id: string }[]; count?: number };
    expect(raw.records.map((r) => r._id)).toEqual(["task/t3"]);
    expect(raw.count).toBeUndefined();
  });

  it("action sends any Skygear action and returns its result", async () => {
    const out = (await run("action", {
      name: "record:fetch",
      params: { database_id: "_public", ids: ["task/t1"] },
    })) as {
      result: { _id: string }[];
    };
    expect(out.result[0]?._id).toBe("task/t1");
  });

  it("delete removes records by id and lists them", async () => {
    const out = await run("delete", { ids: ["task/t3"] });
    expect(out).toEqual({ deleted: ["task/t3"] });
    // A first try that finds a record missing fails; a retry (whose earlier try may have deleted it) does not.
    const missing = await failure(run("delete", { ids: ["task/t3"] }));
    expect(missing.errorName).toBe("ResourceNotFound");
    expect(await run("delete", { ids: ["task/t3"] }, new AbortController().signal, 2)).toEqual({
      deleted: ["task/t3"],
    });
    const left = (await run("query", { type: "task" })) as { records: unknown[] };
    expect(left.records).toHaveLength(2);
  });

  it("sql runs with the app schema first on the search path and bound parameters only", async () => {
    await db.pool.query(`CREATE TABLE ${schema}.counters (name text PRIMARY KEY, n int NOT NULL)`);
    await db.pool.query(`INSERT INTO ${schema}.counters VALUES ('task', 0)`);
    const out = await run("sql", {
      statement: "UPDATE counters SET n = n + 1 WHERE name = $1 RETURNING n",
      params: ["task"],
    });
    expect(out).toEqual({ rows: [{ n: 1 }], row_count: 1 });
    const load = loadWorkflowSource(
      "w.yaml",
      "on: { pubsub: { channel: c } }\nsteps:\n  - sql: { statement: \"SELECT '${{ event.id }}'\" }\n",
    );
    expect(load.problems.map((p) => p.path)).toEqual(["steps[0].sql.statement"]);
  });

  it("sql classifies errors by SQLSTATE: a syntax error is fatal, a serialization failure retryable", async () => {
    const syntax = await failure(run("sql", { statement: "SELEC 1" }));
    expect(syntax).toBeInstanceOf(FatalStepError);
    expect(syntax.errorName).toBe("SqlError");
    const serial = await failure(
      run("sql", { statement: "DO $$ BEGIN RAISE EXCEPTION 'conflict' USING ERRCODE = '40001'; END $$" }),
    );
    expect(serial.errorName).toBe("SqlError");
    expect(serial.retryable).toBe(true);
  });

  it("sql prepares its statement once per connection, and runs it again unprepared when its table changed", async () => {
    await db.pool.query(`CREATE TABLE ${schema}.shapes (a int)`);
    await db.pool.query(`INSERT INTO ${schema}.shapes VALUES (1)`);
    // One connection, so that every run finds the statement prepared by the one before.
    const one = createPool(db.url, { max: 1 });
    const runOn = () =>
      stepKinds.sql!.run({
        input: { statement: "SELECT * FROM shapes WHERE a = $1", params: [1] },
        signal: new AbortController().signal,
        attempt: 1,
        idempotencyKey: "r:s",
        log: silentLogger(),
        clients: { ...clients, pool: one },
      });
    try {
      expect(await runOn()).toEqual({ rows: [{ a: 1 }], row_count: 1 });
      const prepared = await one.query(
        "SELECT statement FROM pg_prepared_statements WHERE name LIKE 'skyflow_sql_%'",
      );
      expect(prepared.rows).toEqual([{ statement: "SELECT * FROM shapes WHERE a = $1" }]);
      // Its cached plan no longer returns the table's rows: Postgres refuses it ("cached plan must not change
      // result type"), and the step runs once more on a new connection.
      await db.pool.query(`ALTER TABLE ${schema}.shapes ADD COLUMN b int`);
      expect(await runOn()).toEqual({ rows: [{ a: 1, b: null }], row_count: 1 });
      expect(await runOn()).toEqual({ rows: [{ a: 1, b: null }], row_count: 1 });
    } finally {
      await one.end();
    }
  });

  it("sql runs a statement without parameters as a simple query: several commands in one text", async () => {
    const out = await run("sql", {
      statement: "CREATE TABLE multi (n int); INSERT INTO multi VALUES (1), (2)",
    });
    expect(out).toEqual({ rows: [], row_count: 2 });
    const { rows } = await db.pool.query(`SELECT count(*)::int AS n FROM ${schema}.multi`);
    expect(rows).toEqual([{ n: 2 }]);
  });

  it("sql stops the statement when the try is aborted", async () => {
    const ac = new AbortController();
    const p = failure(run("sql", { statement: "SELECT pg_sleep(10)" }, ac.signal));
    setTimeout(() => ac.abort(), 100);
    const started = Date.now();
    await p;
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it("publish sends data on a channel", async () => {
    const got = new Promise((resolve) => listener.subscribe("task-events", resolve));
    // The hub knows the subscription before anything is published on the channel.
    await waitFor(
      () => server.handler.hubs.public.subscriberCount("task-events") === 1,
      5_000,
      "subscription",
    );
    expect(await run("publish", { channel: "task-events", data: { id: "task/t1" } })).toEqual({});
    expect(await got).toEqual({ id: "task/t1" });
  });

  it("a value an expression gave of the wrong type fails the try before any call, naming the key", async () => {
    const cases: [string, unknown, RegExp][] = [
      ["publish", { channel: 7 }, /^publish\.channel: expected a string, got an integer$/],
      ["publish", { channel: "" }, /^publish\.channel: must not be empty$/],
      ["query", { type: "task", count: "yes" }, /^query\.count: expected true or false/],
      ["delete", { ids: ["task/t1", 3] }, /^delete\.ids\[1\]: expected a string/],
      ["sql", { statement: "  " }, /^sql\.statement: expected SQL text/],
      [
        "action",
        { name: "record:fetch", params: [1] },
        /^action\.params: expected a mapping or nothing \(null\), got a list$/,
      ],
    ];
    for (const [kind, input, message] of cases) {
      const err = await failure(run(kind, input));
      expect(err).toBeInstanceOf(FatalStepError);
      expect(err.errorName).toBe("InvalidArgument");
      expect(err.message).toMatch(message);
    }
    // Nothing reached the server: task/t1 is still there.
    const left = (await run("query", { type: "task" })) as { records: { _id: string }[] };
    expect(left.records.map((r) => r._id).sort()).toEqual(["task/t1", "task/t2"]);
  });

  it("an optional key an expression left null reads as absent", async () => {
    const out = (await run("query", {
      type: "task",
      database: null,
      where: null,
      sort: null,
      limit: null,
      offset: null,
      count: null,
      as: null,
    })) as { records: unknown[]; count?: number };
    expect(out.records).toHaveLength(2);
    expect(out.count).toBeUndefined();
    expect(await run("sql", { statement: "SELECT 1 AS one", params: null })).toEqual({
      rows: [{ one: 1 }],
      row_count: 1,
    });
  });

  it("push returns the server's per-user answer", async () => {
    const out = (await run("push", {
      users: ["user/alice"],
      notification: { fcm: { notification: { title: "Hi" } } },
    })) as {
      results: { _id: string }[];
    };
    expect(out.results).toEqual([{ _id: "alice" }]);
  });
});
