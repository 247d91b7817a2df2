// Devices and the push outbox over raw HTTP (protocol §9): register/unregister, push:user and push:device
// answers, what is recorded, and GET /_skyflow/pushes (master key only).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { startTestServer, TEST_API_KEY, TEST_MASTER_KEY, type TestServer } from "../helpers/server.js";
import { get, post } from "./http-client.js";

let db: TestDatabase;
let srv: TestServer;
const KEY = { "X-Skygear-API-Key": TEST_API_KEY };
const MASTER = { "X-Skygear-API-Key": TEST_MASTER_KEY };

beforeAll(async () => {
  db = await createTestDatabase("server_push");
  srv = await startTestServer(db.pool);
});
afterAll(async () => {
  await srv?.close();
  await db?.drop();
});

async function register(user: string, body: Record<string, unknown>) {
  return post(srv.url, "/device/register", { _user_id: user, ...body }, MASTER);
}

async function outbox(): Promise<{ kind: string; ids: string[]; result: unknown; devices: unknown[] }[]> {
  const r = await db.pool.query(
    "SELECT kind, ids, result, devices FROM app_testapp._skyflow_push ORDER BY id",
  );
  return r.rows;
}

describe("devices", () => {
  it("registers a device for the acting user and answers its id", async () => {
    const r = await register("u1", { type: "ios", device_token: "tok-1", topic: "app.a" });
    expect(r.status).toBe(200);
    const id = r.json.result.id as string;
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    const row = await db.pool.query(
      "SELECT auth_id, type, token, topic FROM app_testapp._device WHERE id = $1",
      [id],
    );
    expect(row.rows[0]).toEqual({ auth_id: "u1", type: "ios", token: "tok-1", topic: "app.a" });
  });

  it("moves a token to the newly registered device", async () => {
    const a = await register("u2", { type: "android", device_token: "shared" });
    const b = await register("u3", { type: "android", device_token: "shared" });
    const rows = await db.pool.query("SELECT id, auth_id FROM app_testapp._device WHERE token = 'shared'");
    expect(rows.rows).toEqual([{ id: b.json.result.id, auth_id: "u3" }]);
    expect(a.json.result.id).not.toBe(b.json.result.id);
  });

  it("refuses an unknown type with 108, an unknown id with 110, and a client key alone with 101", async () => {
    const bad = await register("u1", { type: "windows", device_token: "t" });
    expect([bad.status, bad.json.error.code]).toEqual([400, 108]);
    const missing = await register("u1", { type: "ios", id: "no-such-device", device_token: "t" });
    expect([missing.status, missing.json.error.code]).toEqual([404, 110]);
    const anon = await post(srv.url, "/device/register", { type: "ios", device_token: "t" }, KEY);
    expect([anon.status, anon.json.error.name]).toEqual([401, "NotAuthenticated"]);
  });

  it("unregisters a device by clearing its user, and wants an id", async () => {
    const r = await register("u4", { type: "ios", device_token: "tok-4" });
    const id = r.json.result.id;
    const un = await post(srv.url, "/device/unregister", { _user_id: "u4", id }, MASTER);
    expect(un.json.result).toEqual({ id });
    const row = await db.pool.query("SELECT auth_id FROM app_testapp._device WHERE id = $1", [id]);
    expect(row.rows[0].auth_id).toBeNull();
    const none = await post(srv.url, "/device/unregister", { _user_id: "u4" }, MASTER);
    expect(none.json.error).toMatchObject({ code: 108, message: "Missing device id" });
  });
});

describe("push", () => {
  it("answers push:user per user with only a client key and records it instead of sending", async () => {
    await db.pool.query("DELETE FROM app_testapp._skyflow_push");
    const dev = await register("pu1", { type: "ios", device_token: "p-tok", topic: "t1" });
    const notification = { apns: { aps: { alert: "hello" } } };
    const r = await post(srv.url, "/push/user", { user_ids: ["pu1", "nobody"], notification }, KEY);
    expect(r.status).toBe(200);
    expect(r.json.result).toEqual([{ _id: "pu1" }, { _id: "nobody" }]);
    const rows = await outbox();
    expect(rows).toEqual([
      {
        kind: "user",
        ids: ["pu1", "nobody"],
        result: [{ _id: "pu1" }, { _id: "nobody" }],
        devices: [{ id: dev.json.result.id, type: "ios", user_id: "pu1", topic: "t1" }],
      },
    ]);
  });

  it("answers push:device with an error item for an unknown device and omits other topics", async () => {
    await db.pool.query("DELETE FROM app_testapp._skyflow_push");
    const a = (await register("pd1", { type: "ios", device_token: "d-a", topic: "t1" })).json.result.id;
    const b = (await register("pd1", { type: "ios", device_token: "d-b", topic: "t2" })).json.result.id;
    const r = await post(
      srv.url,
      "/push/device",
      { device_ids: [a, b, "ghost"], notification: { fcm: { notification: { title: "x" } } }, topic: "t1" },
      KEY,
    );
    expect(r.json.result).toEqual([
      { _id: a },
      {
        _id: "ghost",
        _type: "error",
        name: "ResourceNotFound",
        code: 110,
        message: 'cannot find device "ghost"',
        info: { id: "ghost" },
      },
    ]);
    expect((await outbox())[0]!.devices).toEqual([{ id: a, type: "ios", user_id: "pd1", topic: "t1" }]);
  });

  it("refuses an empty id list or a missing notification with 108 and records nothing", async () => {
    await db.pool.query("DELETE FROM app_testapp._skyflow_push");
    const empty = await post(srv.url, "/push/user", { user_ids: [], notification: {} }, KEY);
    const noNote = await post(srv.url, "/push/user", { user_ids: ["a"] }, KEY);
    expect([empty.status, empty.json.error.code, noNote.status, noNote.json.error.code]).toEqual([
      400, 108, 400, 108,
    ]);
    const noKey = await post(srv.url, "/push/user", { user_ids: ["a"], notification: {} });
    expect([noKey.status, noKey.json.error.code]).toEqual([401, 101]);
    expect(await outbox()).toEqual([]);
  });
});

describe("GET /_skyflow/pushes", () => {
  it("lists recorded pushes newest first with the master key, honouring limit", async () => {
    await db.pool.query("DELETE FROM app_testapp._skyflow_push");
    for (const n of [1, 2, 3]) {
      await post(srv.url, "/push/user", { user_ids: [`n${n}`], notification: { n } }, KEY);
    }
    const r = await get(srv.url, "/_skyflow/pushes?limit=2", MASTER);
    expect(r.status).toBe(200);
    expect(r.json.result.map((p: { ids: string[] }) => p.ids)).toEqual([["n3"], ["n2"]]);
    expect(r.json.result[0]).toMatchObject({ kind: "user", notification: { n: 3 }, result: [{ _id: "n3" }] });
  });

  it("refuses the client key (102/401), no key (101/401) and a wrong key (103/401)", async () => {
    const client = await get(srv.url, "/_skyflow/pushes", KEY);
    const none = await get(srv.url, "/_skyflow/pushes");
    const wrong = await get(srv.url, "/_skyflow/pushes", { "X-Skygear-API-Key": "nope" });
    expect([client.status, client.json.error.code]).toEqual([401, 102]);
    expect([none.status, none.json.error.code]).toEqual([401, 101]);
    expect([wrong.status, wrong.json.error.code]).toEqual([401, 103]);
  });
});
