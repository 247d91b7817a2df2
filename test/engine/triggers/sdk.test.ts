// A record saved, updated and deleted through the official Skygear SDK (npm skygear 1.7.2) against the
// Skygear-compatible test server starts the workflows, with the record as record:query returns it.
import { createRequire } from "node:module";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTriggers, type Triggers } from "../../../src/engine/triggers/index.js";
import { silentLogger } from "../../../src/log.js";
import { createTestDatabase, type TestDatabase } from "../../helpers/db.js";
import { startTestServer, TEST_API_KEY, type TestServer } from "../../helpers/server.js";
import { catalog, runsOf, waitFor, when, workflow } from "./helpers.js";

const require = createRequire(import.meta.url);
// biome-ignore lint/suspicious/noExplicitAny: the SDK ships no types
type Any = any;
const Container: new () => Any = require("skygear-core/dist/container").default;
const { Store }: { Store: new (driver: unknown) => unknown } = require("skygear-core/dist/store");

/** The SDK's async storage driver over a Map (Node has no localStorage). */
function memoryDriver() {
  const m = new Map<string, string>();
  const done = <T>(cb: ((e: null, v?: T) => void) | undefined, v?: T) => {
    cb?.(null, v);
    return Promise.resolve(v);
  };
  return {
    clear: (cb?: Any) => done(cb, m.clear()),
    getItem: (k: string, cb?: Any) => done(cb, m.get(k) ?? null),
    setItem: (k: string, v: string, cb?: Any) => done(cb, void m.set(k, v)),
    removeItem: (k: string, cb?: Any) => done(cb, void m.delete(k)),
    multiGet: (keys: string[], cb?: Any) =>
      done(
        cb,
        keys.map((key) => ({ key, value: m.get(key) ?? null })),
      ),
    multiSet: (pairs: { key: string; value: string }[], cb?: Any) => {
      for (const p of pairs) m.set(p.key, p.value);
      return done(cb);
    },
    multiRemove: (keys: string[], cb?: Any) => {
      for (const k of keys) m.delete(k);
      return done(cb);
    },
    key: (n: number, cb?: Any) => done(cb, [...m.keys()][n] ?? null),
    keys: (cb?: Any) => done(cb, [...m.keys()]),
    length: (cb?: Any) => done(cb, m.size),
  };
}

let db: TestDatabase;
let srv: TestServer;
let triggers: Triggers;
let sky: Any;

const wfs = [
  workflow("sdk_created", [{ kind: "record", type: "sdktask", database: "_public", events: ["create"] }]),
  workflow("sdk_done", [
    {
      kind: "record",
      type: "sdktask",
      database: "_public",
      events: ["update"],
      when: when("event.record.status == 'done' && event.original.status != 'done'"),
    },
  ]),
  workflow("sdk_deleted", [{ kind: "record", type: "sdktask", database: "_public", events: ["delete"] }]),
];

beforeAll(async () => {
  db = await createTestDatabase("triggers_sdk");
  srv = await startTestServer(db.pool);
  // Started before the record type exists: the server creates the table in the first save's transaction.
  triggers = await startTriggers({
    pool: db.pool,
    catalog: catalog(wfs),
    appSchema: srv.config.schema,
    wake: () => {},
    log: silentLogger(),
  });
  sky = new Container();
  sky._store = new Store(memoryDriver());
  await sky.config({ endPoint: srv.url, apiKey: TEST_API_KEY });
  await sky.auth.signupWithUsername("carol", "pw-carol");
});
afterAll(async () => {
  await triggers?.stop();
  sky?.pubsub._pubsub.reset();
  sky?.pubsub._internalPubsub.reset();
  await srv?.close();
  await db?.drop();
});

describe("record trigger with the official SDK", () => {
  it("starts workflows for a save, a `when`-filtered update and a delete", async () => {
    const Task = sky.Record.extend("sdktask");
    const task = new Task({ title: "Write report", status: "open", due: new Date("2026-06-01T09:00:00Z") });
    const saved = await sky.publicDB.save(task);
    const created = await waitFor(
      () => runsOf(db.pool, "sdk_created"),
      (r) => r.length === 1,
    );
    expect(created).toHaveLength(1);
    expect(created[0]!.event).toMatchObject({
      op: "create",
      record_type: "sdktask",
      record: {
        _id: `sdktask/${saved._id}`,
        _ownerID: String(sky.auth.currentUser.id).replace(/^user\//, ""),
        title: "Write report",
        status: "open",
        due: { $type: "date", $date: "2026-06-01T09:00:00Z" },
      },
    });

    saved.title = "Write the report";
    await sky.publicDB.save(saved);
    saved.status = "done";
    await sky.publicDB.save(saved);
    const done = await waitFor(
      () => runsOf(db.pool, "sdk_done"),
      (r) => r.length === 1,
    );
    expect(done[0]!.event).toMatchObject({ record: { status: "done" }, original: { status: "open" } });

    await sky.publicDB.delete(saved);
    const deleted = await waitFor(
      () => runsOf(db.pool, "sdk_deleted"),
      (r) => r.length === 1,
    );
    expect(deleted[0]!.event).toMatchObject({
      op: "delete",
      record: { _id: `sdktask/${saved._id}`, status: "done" },
    });
    expect(await runsOf(db.pool, "sdk_done")).toHaveLength(1);
  });
});
