// The request pipeline over raw HTTP: routing, the envelope, headers, CORS, keys, tokens, impersonation.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SkygearServerError } from "../../src/server/errors.js";
import type { ActionSpec } from "../../src/server/types.js";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { startTestServer, TEST_API_KEY, TEST_MASTER_KEY, type TestServer } from "../helpers/server.js";
import { post } from "./http-client.js";

const seen: { auth: unknown; payload: unknown }[] = [];
const probes: ActionSpec[] = [
  {
    name: "test:whoami",
    auth: "authenticator",
    handle: async (req) => {
      seen.push({ auth: req.auth, payload: req.payload });
      return { result: req.auth };
    },
  },
  { name: "test:master", auth: "require_master", handle: async () => ({ result: "master ok" }) },
  {
    name: "test:boom",
    auth: "none",
    handle: async () => {
      throw new Error("secret internals: password=hunter2");
    },
  },
  {
    name: "test:denied",
    auth: "none",
    handle: async () => {
      throw new SkygearServerError("PermissionDenied", "nope", { info: { why: "test" } });
    },
  },
  { name: "test:counted", auth: "none", handle: async () => ({ result: [], info: { count: 0 } }) },
];

let db: TestDatabase;
let srv: TestServer;
const KEY = { "X-Skygear-API-Key": TEST_API_KEY };
const MASTER = { "X-Skygear-API-Key": TEST_MASTER_KEY };

beforeAll(async () => {
  db = await createTestDatabase("server_router");
  srv = await startTestServer(db.pool, { actions: probes });
});
afterAll(async () => {
  await srv?.close();
  await db?.drop();
});

describe("routing", () => {
  it("answers POST / without an action with status OK and the v1 headers", async () => {
    const r = await post(srv.url, "/", "");
    expect(r.status).toBe(200);
    expect(r.json).toEqual({ result: { status: "OK" } });
    expect(r.headers.get("server")).toBe("Skygear Server/1.7.3");
    expect(r.headers.get("x-skygear-request-id")).toMatch(/^[0-9a-f-]{36}$/);
    expect(r.headers.get("content-type")).toBe("application/json");
    expect(r.text.endsWith("\n")).toBe(true);
  });

  it("routes by URL path, and the path wins over the body action", async () => {
    const r = await post(srv.url, "/test/master", { action: "test:counted" }, MASTER);
    expect(r.json).toEqual({ result: "master ok" });
  });

  it("falls back to the body action when the path names no action", async () => {
    const r = await post(srv.url, "/", { action: "test:counted" });
    expect(r.json).toEqual({ result: [], info: { count: 0 } });
  });

  it("answers an unknown action with UndefinedOperation 117 and HTTP 404", async () => {
    const r = await post(srv.url, "/no/such/thing", {}, KEY);
    expect(r.status).toBe(404);
    expect(r.json).toEqual({ error: { name: "UndefinedOperation", code: 117, message: "route unmatched" } });
    const r2 = await post(srv.url, "/", { action: "nope:nope" }, KEY);
    expect(r2.status).toBe(404);
    expect(r2.json.error.code).toBe(117);
  });

  // v1 builds BadRequest for these but writes only the status; we write the error too (README).
  it("answers a body that is not JSON with 400 BadRequest, without quoting the body", async () => {
    const r = await post(srv.url, "/_status/healthz", '{"password": "hunter2" not json', KEY);
    expect(r.status).toBe(400);
    expect(r.json.error).toMatchObject({ name: "BadRequest", code: 107 });
    expect(r.text).not.toContain("hunter2");
  });

  it("answers a JSON body that is not an object with 400 BadRequest", async () => {
    for (const body of ["[1,2]", '"text"', "42", "true"]) {
      const r = await post(srv.url, "/_status/healthz", body, KEY);
      expect(r.status).toBe(400);
      expect(r.json.error).toMatchObject({ name: "BadRequest", code: 107 });
    }
  });

  it("answers OPTIONS with an empty 200 and echoes the CORS request", async () => {
    const res = await fetch(new URL("/record/query", srv.url), {
      method: "OPTIONS",
      headers: {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "x-skygear-api-key",
      },
    });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("");
    expect(res.headers.get("access-control-allow-origin")).toBe("*");
    expect(res.headers.get("access-control-allow-credentials")).toBe("true");
    expect(res.headers.get("access-control-allow-methods")).toBe("POST");
    expect(res.headers.get("access-control-allow-headers")).toBe("x-skygear-api-key");
  });

  it("answers _status:healthz", async () => {
    const r = await post(srv.url, "/_status/healthz", {});
    expect(r.json).toEqual({ result: { status: "OK" } });
  });
});

describe("errors", () => {
  it("turns a handler exception into UnexpectedError 10000 / 500 without internals", async () => {
    const r = await post(srv.url, "/test/boom", {});
    expect(r.status).toBe(500);
    expect(r.json.error).toMatchObject({ name: "UnexpectedError", code: 10000 });
    expect(r.text).not.toContain("hunter2");
    expect(r.text).not.toContain("internals");
  });

  it("keeps a thrown Skygear error's name, code, status and info", async () => {
    const r = await post(srv.url, "/test/denied", {});
    expect(r.status).toBe(403);
    expect(r.json).toEqual({
      error: { name: "PermissionDenied", code: 102, message: "nope", info: { why: "test" } },
    });
  });
});

describe("keys and tokens", () => {
  it("refuses a wrong API key with 103 / 401", async () => {
    const r = await post(srv.url, "/test/whoami", {}, { "X-Skygear-API-Key": "wrong" });
    expect(r.status).toBe(401);
    expect(r.json.error).toMatchObject({ name: "AccessKeyNotAccepted", code: 103 });
  });

  it("refuses a request with neither key nor token with 101 / 401", async () => {
    const r = await post(srv.url, "/test/whoami", { access_token: null });
    expect(r.status).toBe(401);
    expect(r.json.error).toMatchObject({ name: "NotAuthenticated", code: 101 });
  });

  it("lets the header key win over the body key", async () => {
    const r = await post(srv.url, "/test/whoami", { api_key: "wrong" }, MASTER);
    expect(r.json.result).toMatchObject({ accessType: "master", userId: "_god" });
  });

  it("accepts the key in the body and access_token: null", async () => {
    const r = await post(srv.url, "/test/whoami", { api_key: TEST_API_KEY, access_token: null });
    expect(r.status).toBe(200);
    expect(r.json.result).toEqual({ accessType: "client", userId: null, roles: [] });
  });

  it("creates the _god auth row for the bare master key", async () => {
    await post(srv.url, "/test/whoami", {}, MASTER);
    const rows = await db.pool.query(`SELECT id FROM app_testapp._auth WHERE id = '_god'`);
    expect(rows.rowCount).toBe(1);
  });

  it("impersonates _user_id with the master key and creates its auth row", async () => {
    const r = await post(srv.url, "/test/whoami", { _user_id: "imp-1" }, MASTER);
    expect(r.json.result).toEqual({ accessType: "master", userId: "imp-1", roles: [] });
    const rows = await db.pool.query(`SELECT id FROM app_testapp._auth WHERE id = 'imp-1'`);
    expect(rows.rowCount).toBe(1);
  });

  it("ignores _user_id with a client key", async () => {
    const r = await post(srv.url, "/test/whoami", { _user_id: "imp-2" }, KEY);
    expect(r.json.result.userId).toBeNull();
  });

  it("refuses require_master with a client key: 102 with HTTP 401", async () => {
    const r = await post(srv.url, "/test/master", {}, KEY);
    expect(r.status).toBe(401);
    expect(r.json.error).toMatchObject({ name: "PermissionDenied", code: 102 });
  });

  it("refuses an unknown access token with 104 / 401", async () => {
    const r = await post(srv.url, "/test/whoami", {}, { ...KEY, "X-Skygear-Access-Token": "not-a-token" });
    expect(r.status).toBe(401);
    expect(r.json.error).toMatchObject({ name: "AccessTokenNotAccepted", code: 104 });
  });
});

describe("in-process handler", () => {
  it("answers as HTTP does: a non-object body is 400 BadRequest, none at all is home", async () => {
    const bad = {
      status: 400,
      body: { error: { name: "BadRequest", code: 107, message: "the request body must be a JSON object" } },
    };
    expect(await srv.handler.handle({ body: [1, 2], headers: {} })).toEqual(bad);
    expect(await srv.handler.handle({ body: "text", headers: {} })).toEqual(bad);
    expect(await srv.handler.handle({ body: undefined, headers: {} })).toEqual({
      status: 200,
      body: { result: { status: "OK" } },
    });
  });

  it("reads credentials from headers in any letter case", async () => {
    const r = await srv.handler.handle({
      pathAction: "test:whoami",
      body: { _user_id: "imp-3" },
      headers: { "X-Skygear-API-Key": TEST_MASTER_KEY },
    });
    expect(r).toEqual({
      status: 200,
      body: { result: { accessType: "master", userId: "imp-3", roles: [] } },
    });
  });
});

describe("master-key auth cache", () => {
  it("reuses an impersonated user's roles until the injected clock passes the TTL", async () => {
    let clock = 1_000_000;
    const cached = await startTestServer(db.pool, { actions: probes, authCacheMs: 1000, now: () => clock });
    try {
      const ask = async () =>
        (await post(cached.url, "/test/whoami", { _user_id: "cache-1" }, MASTER)).json.result.roles;
      expect(await ask()).toEqual([]);
      await db.pool.query(
        `INSERT INTO app_testapp._auth_role (auth_id, role_id) VALUES ('cache-1', 'Admin')`,
      );
      clock += 999;
      expect(await ask()).toEqual([]);
      clock += 1;
      expect(await ask()).toEqual(["Admin"]);
    } finally {
      await cached.close();
    }
  });

  it("never caches token requests: a revoked token is refused at once", async () => {
    const s = await post(
      srv.url,
      "/auth/signup",
      { auth_data: { username: "tok-cache" }, password: "pw" },
      KEY,
    );
    const tok = { "X-Skygear-Access-Token": s.json.result.access_token };
    expect((await post(srv.url, "/test/whoami", {}, tok)).status).toBe(200);
    await post(srv.url, "/auth/logout", {}, tok);
    expect((await post(srv.url, "/test/whoami", {}, tok)).status).toBe(401);
  });
});
