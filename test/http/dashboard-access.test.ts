// Who may use the dashboard, on a loopback server: under `start`, pages redirect to the login form and the
// API answers 401 until a bearer secret or the session cookie comes; the cookie holds a signature, never the
// key; actions need the page's own origin; under `dev`, loopback is open but a foreign Host is not.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LiveCatalog } from "../../src/engine/catalog.js";
import { DashboardAccess } from "../../src/http/auth.js";
import { createDashboardHandler } from "../../src/http/dashboard.js";
import { LiveFeed } from "../../src/http/live.js";
import { type HttpServer, startHttpServer } from "../../src/http/server.js";
import { silentLogger } from "../../src/log.js";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";

const MASTER = "master-key-0123456789";
const TOKEN = "dashboard-token-abcdefgh";
let db: TestDatabase;
const servers: HttpServer[] = [];
const feeds: LiveFeed[] = [];

async function serve(mode: "dev" | "start"): Promise<string> {
  const catalog = new LiveCatalog();
  const live = new LiveFeed({ db: db.pool, catalog, log: silentLogger() });
  feeds.push(live);
  const handler = createDashboardHandler({
    pool: db.pool,
    catalog,
    mode,
    access: new DashboardAccess({ openOnLoopback: mode === "dev", secrets: [MASTER, TOKEN] }),
    live,
    secrets: [MASTER, TOKEN],
  });
  const s = await startHttpServer(handler, 0, "127.0.0.1");
  servers.push(s);
  return `http://127.0.0.1:${s.port}`;
}

let url: string;
beforeAll(async () => {
  db = await createTestDatabase("http_dashboard_access");
  url = await serve("start");
});
afterAll(async () => {
  for (const f of feeds) f.close();
  for (const s of servers) await s.close();
  await db?.drop();
});

async function login(token: string, origin = url): Promise<Response> {
  return fetch(`${url}/login`, {
    method: "POST",
    redirect: "manual",
    headers: { "content-type": "application/x-www-form-urlencoded", origin },
    body: new URLSearchParams({ token, next: "/runs/abc" }).toString(),
  });
}

describe("dashboard access under start", () => {
  it("sends a page to the login form and answers the API with 401", async () => {
    const page = await fetch(`${url}/workflows/x`, { redirect: "manual" });
    expect(page.status).toBe(303);
    expect(page.headers.get("location")).toBe("/login?next=%2Fworkflows%2Fx");
    const api = await fetch(`${url}/api/runs`);
    expect(api.status).toBe(401);
    expect(await api.text()).not.toContain(MASTER);
    expect((await fetch(`${url}/api/events`)).status).toBe(401);
  });

  it("opens the API to the master key or the dashboard token as a bearer, and to nothing else", async () => {
    for (const secret of [MASTER, TOKEN]) {
      expect(
        (await fetch(`${url}/api/runs`, { headers: { authorization: `Bearer ${secret}` } })).status,
      ).toBe(200);
    }
    expect((await fetch(`${url}/api/runs`, { headers: { authorization: "Bearer wrong" } })).status).toBe(401);
    expect((await fetch(`${url}/api/runs`, { headers: { authorization: `Bearer ${MASTER}x` } })).status).toBe(
      401,
    );
  });

  it("signs in with a form: an HttpOnly SameSite=Strict cookie that holds no key, good for pages and API", async () => {
    const res = await login(TOKEN);
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/runs/abc");
    const cookie = res.headers.get("set-cookie")!;
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    expect(cookie).not.toContain(TOKEN);
    expect(cookie).not.toContain(MASTER);
    const session = cookie.split(";")[0]!;
    expect((await fetch(`${url}/api/runs`, { headers: { cookie: session } })).status).toBe(200);
    expect((await fetch(`${url}/`, { headers: { cookie: session } })).status).toBe(200);
    // Every other spelling of the last character, including the three that differ only in its spare bits.
    const b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const last = b64.indexOf(session.at(-1)!);
    for (const i of [last ^ 1, last ^ 2, last ^ 3, last ^ 32]) {
      const forged = session.slice(0, -1) + b64[i];
      expect((await fetch(`${url}/api/runs`, { headers: { cookie: forged } })).status).toBe(401);
    }
  });

  it("refuses a wrong token, and a login posted from another site", async () => {
    const wrong = await login("not-the-token-at-all");
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get("set-cookie")).toBeNull();
    expect((await login(TOKEN, "http://evil.example")).status).toBe(403);
  });

  it("refuses actions with the session cookie unless they come from the page itself as JSON", async () => {
    const session = (await login(MASTER)).headers.get("set-cookie")!.split(";")[0]!;
    const act = (headers: Record<string, string>) =>
      fetch(`${url}/api/workflows/none/pause`, {
        method: "POST",
        headers: { cookie: session, ...headers },
        body: "{}",
      });
    expect((await act({ origin: "http://evil.example", "content-type": "application/json" })).status).toBe(
      403,
    );
    expect((await act({ origin: url, "content-type": "text/plain" })).status).toBe(403);
    expect((await act({ "content-type": "application/json" })).status).toBe(403);
    // From the page: accepted (and answered 404, there being no such workflow).
    expect((await act({ origin: url, "content-type": "application/json" })).status).toBe(404);
  });

  it("never redirects a login to another site", async () => {
    const res = await fetch(`${url}/login`, {
      method: "POST",
      redirect: "manual",
      headers: { "content-type": "application/x-www-form-urlencoded", origin: url },
      body: new URLSearchParams({ token: MASTER, next: "//evil.example/x" }).toString(),
    });
    expect(res.headers.get("location")).toBe("/");
  });
});

describe("dashboard access under dev", () => {
  it("is open on loopback and closed to a page that reached it under another host name", async () => {
    const dev = await serve("dev");
    expect((await fetch(`${dev}/api/runs`)).status).toBe(200);
    expect((await fetch(`${dev}/`)).status).toBe(200);
    // What a DNS-rebound name sends: a loopback address, a foreign Host.
    const port = new URL(dev).port;
    const { request } = await import("node:http");
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(
        { host: "127.0.0.1", port, path: "/api/runs", headers: { host: `evil.example:${port}` } },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on("error", reject);
      req.end();
    });
    expect(status).toBe(401);
  });
});
