// auth:signup, auth:login, auth:logout and `me` over raw HTTP (protocol §11), and the stored credentials.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hashPassword, verifyPassword } from "../../src/server/auth/password.js";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { startTestServer, TEST_API_KEY, TEST_MASTER_KEY, type TestServer } from "../helpers/server.js";
import { post } from "./http-client.js";

let db: TestDatabase;
let srv: TestServer;
const KEY = { "X-Skygear-API-Key": TEST_API_KEY };

beforeAll(async () => {
  db = await createTestDatabase("server_auth");
  srv = await startTestServer(db.pool);
});
afterAll(async () => {
  await srv?.close();
  await db?.drop();
});

const signup = (body: Record<string, unknown>) => post(srv.url, "/auth/signup", body, KEY);
const login = (body: Record<string, unknown>) => post(srv.url, "/auth/login", body, KEY);

describe("passwords", () => {
  it("hashes with scrypt and a random salt, and verifies only the right password", async () => {
    const a = await hashPassword("pw");
    const b = await hashPassword("pw");
    expect(a).toMatch(/^scrypt\$16384\$8\$1\$/);
    expect(a).not.toBe(b);
    expect(await verifyPassword("pw", a)).toBe(true);
    expect(await verifyPassword("pW", a)).toBe(false);
    expect(await verifyPassword("pw", "garbage")).toBe(false);
    expect(await verifyPassword("pw", null)).toBe(false);
  });
});

describe("signup", () => {
  it("creates a user with a profile record, a token and a hashed password", async () => {
    const r = await signup({
      auth_data: { username: "alice" },
      password: "s3cret",
      profile: { nickname: "Al" },
    });
    expect(r.status).toBe(200);
    const res = r.json.result;
    expect(res.user_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(res.access_token).toEqual(expect.any(String));
    expect(res.profile).toMatchObject({
      _id: `user/${res.user_id}`,
      _type: "record",
      username: "alice",
      nickname: "Al",
    });
    // v1 answers signup before it records the login: no last_login_at yet.
    expect(res.last_login_at).toBeUndefined();
    const row = await db.pool.query("SELECT password FROM app_testapp._auth WHERE id = $1", [res.user_id]);
    expect(row.rows[0].password).toMatch(/^scrypt\$/);
    expect(row.rows[0].password).not.toContain("s3cret");
  });

  it("refuses a taken username with Duplicated 109 / 409", async () => {
    await signup({ auth_data: { username: "bob" }, password: "pw" });
    const r = await signup({ auth_data: { username: "bob" }, password: "other" });
    expect(r.status).toBe(409);
    expect(r.json.error).toMatchObject({ name: "Duplicated", code: 109 });
  });

  it("signs up anonymously with null auth_data, password and profile", async () => {
    const r = await signup({ auth_data: null, password: null, profile: null });
    expect(r.status).toBe(200);
    expect(r.json.result.profile._id).toBe(`user/${r.json.result.user_id}`);
  });

  it("refuses an empty password, an unknown auth_data key, and a missing API key", async () => {
    const empty = await signup({ auth_data: { username: "carol" }, password: "" });
    expect([empty.status, empty.json.error.code]).toEqual([400, 108]);
    const key = await signup({ auth_data: { phone: "123" }, password: "pw" });
    expect([key.status, key.json.error.code]).toEqual([400, 108]);
    const token = (await signup({ auth_data: { username: "dave" }, password: "pw" })).json.result
      .access_token;
    const noKey = await post(
      srv.url,
      "/auth/signup",
      { auth_data: { username: "erin" }, password: "pw" },
      {
        "X-Skygear-Access-Token": token,
      },
    );
    expect([noKey.status, noKey.json.error.code]).toEqual([401, 101]);
    const rows = await db.pool.query(
      `SELECT count(*)::int AS n FROM app_testapp."user" WHERE username IN ('carol', 'erin')`,
    );
    expect(rows.rows[0].n).toBe(0);
  });
});

describe("login, tokens, me, logout", () => {
  it("logs in with username or email and answers the signup shape", async () => {
    const s = await signup({ auth_data: { username: "frank", email: "f@example.com" }, password: "pw1" });
    const byName = await login({ auth_data: { username: "frank" }, password: "pw1" });
    const byMail = await login({ auth_data: { email: "f@example.com" }, password: "pw1" });
    for (const r of [byName, byMail]) {
      expect(r.status).toBe(200);
      expect(r.json.result.user_id).toBe(s.json.result.user_id);
      expect(r.json.result.profile).toMatchObject({
        _id: `user/${s.json.result.user_id}`,
        email: "f@example.com",
      });
      expect(r.json.result.access_token).not.toBe(s.json.result.access_token);
    }
  });

  it("refuses a wrong password with 105 / 401 and an unknown user with 110 / 404", async () => {
    await signup({ auth_data: { username: "gina" }, password: "right" });
    const wrong = await login({ auth_data: { username: "gina" }, password: "wrong" });
    expect([wrong.status, wrong.json.error.name]).toEqual([401, "InvalidCredentials"]);
    const unknown = await login({ auth_data: { username: "nobody" }, password: "x" });
    expect([unknown.status, unknown.json.error.name]).toEqual([404, "ResourceNotFound"]);
  });

  it("accepts a token without an API key, answers me with a fresh token, and revokes it at logout", async () => {
    const s = (await signup({ auth_data: { username: "hank" }, password: "pw" })).json.result;
    const tok = { "X-Skygear-Access-Token": s.access_token };
    const me = await post(srv.url, "/me", {}, tok);
    expect(me.status).toBe(200);
    expect(me.json.result.user_id).toBe(s.user_id);
    expect(me.json.result.access_token).not.toBe(s.access_token);
    const out = await post(srv.url, "/auth/logout", {}, tok);
    expect(out.json).toEqual({ result: { status: "OK" } });
    const after = await post(srv.url, "/me", {}, tok);
    expect([after.status, after.json.error.code]).toEqual([401, 104]);
    const fresh = await post(srv.url, "/me", { access_token: me.json.result.access_token });
    expect(fresh.status).toBe(200);
  });

  it("loads the user's roles into the answer", async () => {
    const s = (await signup({ auth_data: { username: "ivy" }, password: "pw" })).json.result;
    await db.pool.query(`INSERT INTO app_testapp._role (id) VALUES ('Editor') ON CONFLICT DO NOTHING`);
    await db.pool.query(`INSERT INTO app_testapp._auth_role (auth_id, role_id) VALUES ($1, 'Editor')`, [
      s.user_id,
    ]);
    const r = await login({ auth_data: { username: "ivy" }, password: "pw" });
    expect(r.json.result.roles).toEqual(["Editor"]);
  });

  it("refuses a disabled user with UserDisabled 127 / 403 at login and on a token", async () => {
    const s = (await signup({ auth_data: { username: "jack" }, password: "pw" })).json.result;
    await db.pool.query(
      `UPDATE app_testapp._auth SET disabled = true, disabled_message = 'banned' WHERE id = $1`,
      [s.user_id],
    );
    const r = await login({ auth_data: { username: "jack" }, password: "pw" });
    expect([r.status, r.json.error]).toEqual([
      403,
      { name: "UserDisabled", code: 127, message: "user is disabled", info: { message: "banned" } },
    ]);
    const t = await post(srv.url, "/me", {}, { "X-Skygear-Access-Token": s.access_token });
    expect(t.status).toBe(403);
  });

  it("answers me for the bare master key as _god with a user record", async () => {
    const r = await post(srv.url, "/me", {}, { "X-Skygear-API-Key": TEST_MASTER_KEY });
    expect(r.json.result).toMatchObject({ user_id: "_god", profile: { _id: "user/_god" } });
  });
});

describe("auth:password and auth:reset_password", () => {
  it("changes a password with the old one; tokens older than a second before it stop working", async () => {
    const s = (await signup({ auth_data: { username: "pw-ivy" }, password: "old-pw" })).json.result;
    const tok = { "X-Skygear-Access-Token": s.access_token };
    const wrong = await post(srv.url, "/auth/password", { old_password: "nope", password: "new-pw" }, tok);
    expect([wrong.status, wrong.json.error.message]).toEqual([401, "Incorrect old password"]);
    // v1 keeps tokens issued up to a second before the change: wait it out, so the old token is refused.
    await new Promise((r) => setTimeout(r, 1100));
    const ok = await post(srv.url, "/auth/password", { old_password: "old-pw", password: "new-pw" }, tok);
    expect(ok.status).toBe(200);
    expect(ok.json.result.access_token).not.toBe(s.access_token);
    const old = await post(srv.url, "/me", {}, tok);
    expect([old.status, old.json.error.code]).toEqual([401, 104]);
    const fresh = await post(srv.url, "/me", {}, { "X-Skygear-Access-Token": ok.json.result.access_token });
    expect(fresh.status).toBe(200);
    expect((await login({ auth_data: { username: "pw-ivy" }, password: "old-pw" })).status).toBe(401);
    expect((await login({ auth_data: { username: "pw-ivy" }, password: "new-pw" })).status).toBe(200);
  });

  it("resets any user's password with the master key only", async () => {
    const s = (await signup({ auth_data: { username: "pw-jade" }, password: "pw" })).json.result;
    const master = { "X-Skygear-API-Key": TEST_MASTER_KEY };
    const denied = await post(srv.url, "/auth/reset_password", { auth_id: s.user_id, password: "x" }, KEY);
    expect([denied.status, denied.json.error.code]).toEqual([401, 102]);
    const reset = await post(
      srv.url,
      "/auth/reset_password",
      { auth_id: s.user_id, password: "reset" },
      master,
    );
    expect(reset.json.result.user_id).toBe(s.user_id);
    expect((await login({ auth_data: { username: "pw-jade" }, password: "reset" })).status).toBe(200);
    const empty = await post(srv.url, "/auth/reset_password", { password: "x" }, master);
    expect(empty.json.error).toMatchObject({ code: 108, message: "empty auth_id" });
  });
});
