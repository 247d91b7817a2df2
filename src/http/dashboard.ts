// The dashboard's HTTP side: the pages (one shell the bundled client renders), their JSON API under /api,
// the live event stream, and the actions (retry, cancel, pause, resume), all behind DashboardAccess; the
// bundle and the login form are open. Chained after the status handler, on the daemon's HTTP port.
import type { IncomingMessage, ServerResponse } from "node:http";
import type pg from "pg";
import type { LiveCatalog } from "../engine/catalog.js";
import { firstStepOf } from "../engine/store/inspect.js";
import { setPaused } from "../engine/workflow-state.js";
import { type ActionResult, cancelAction, type EngineControl, retryAction } from "./actions.js";
import {
  type DashboardAccess,
  SESSION_COOKIE,
  sameOriginAction,
  sessionCookieHeader,
  type Via,
} from "./auth.js";
import type { DevLog } from "./dev-log.js";
import type { LiveFeed } from "./live.js";
import { workflowRows } from "./overview.js";
import { type Bundle, loadBundle, loginPage, safeNext, shellPage } from "./pages.js";
import { listRunSummaries, runDetail } from "./runs-api.js";
import type { RouteHandler } from "./status.js";
import { workflowDetail } from "./workflows-api.js";

export interface DashboardOptions {
  pool: pg.Pool;
  catalog: LiveCatalog;
  mode: "dev" | "start";
  access: DashboardAccess;
  live: LiveFeed;
  /** Redacted from everything shown (the keys, the dashboard token). */
  secrets: string[];
  engine?: EngineControl;
  /** Under `dev` with the embedded server: its pushes and pubsub messages. */
  dev?: DevLog;
  /** Re-reads the paused workflows into the catalog after a pause or resume. */
  refreshPaused?: () => Promise<void>;
  /** Path prefix the dashboard is mounted under ("" on its own port). */
  prefix?: string;
  bundle?: Bundle;
}

type Api = (m: RegExpExecArray, url: URL) => Promise<unknown | undefined>;
type Act = (m: RegExpExecArray) => Promise<ActionResult>;

const PAGES = [/^\/$/, /^\/runs\/[^/]+$/, /^\/workflows\/[^/]+$/, /^\/dev$/];
const MAX_BODY = 16 * 1024;

export function createDashboardHandler(o: DashboardOptions): RouteHandler {
  const base = o.prefix ?? "";
  const bundle = o.bundle ?? loadBundle();
  const reads = readRoutes(o);
  const acts = actionRoutes(o);
  return async (req, res) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    if (!url.pathname.startsWith(base)) return false;
    const path = url.pathname.slice(base.length) || "/";
    const method = req.method ?? "GET";
    if (method === "GET" && path.startsWith("/assets/")) return serveAsset(bundle, path.slice(8), req, res);
    if (path === "/login") return login(o, req, res, url, base);
    if (path === "/logout" && method === "POST") {
      res.writeHead(303, {
        location: `${base}/login`,
        "set-cookie": `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0`,
      });
      res.end();
      return true;
    }
    const isPage = PAGES.some((p) => p.test(path));
    if (!isPage && !path.startsWith("/api/")) return false;
    const via = o.access.check(req);
    if (!via) return refuse(req, res, isPage, base, url);
    if (method === "POST") return act(acts, path, req, res, via);
    if (method !== "GET" && method !== "HEAD") return false;
    if (isPage) {
      send(res, 200, "text/html; charset=utf-8", shellPage(bundle, base, o.mode));
      return true;
    }
    if (path === "/api/events") {
      o.live.attach(res);
      return true;
    }
    for (const [re, handler] of reads) {
      const m = re.exec(path);
      if (!m) continue;
      const body = await handler(m, url);
      if (body === undefined) sendJson(res, 404, { error: `nothing at ${path}` });
      else sendJson(res, 200, body);
      return true;
    }
    return false;
  };
}

function readRoutes(o: DashboardOptions): [RegExp, Api][] {
  const firstStep = firstStepOf(o.pool, o.catalog);
  return [
    [/^\/api\/workflows$/, () => workflowRows(o.pool, o.catalog)],
    [/^\/api\/workflows\/([^/]+)$/, (m) => workflowDetail(o.pool, o.catalog, decodeURIComponent(m[1]!))],
    [/^\/api\/runs$/, (_m, url) => runList(o, url)],
    [/^\/api\/runs\/([^/]+)$/, (m) => runDetail(o.pool, m[1]!, o.secrets, firstStep)],
    [/^\/api\/session$/, async () => ({ mode: o.mode, dev: o.dev !== undefined })],
    [/^\/api\/dev\/pubsub$/, async () => o.dev?.pubsub()],
    [/^\/api\/dev\/pushes$/, async () => o.dev?.pushes()],
  ];
}

function actionRoutes(o: DashboardOptions): [RegExp, Act][] {
  const pause = (paused: boolean) => async (m: RegExpExecArray) => {
    const name = decodeURIComponent(m[1]!);
    if (!o.catalog.get(name))
      return { ok: false as const, status: 404, message: `no workflow named ${name}` };
    await setPaused(o.pool, name, paused);
    await o.refreshPaused?.();
    return { ok: true as const, message: paused ? "paused" : "resumed" };
  };
  return [
    [/^\/api\/runs\/([0-9a-f-]{36})\/retry$/, (m) => retryAction(o.pool, o.engine, m[1]!)],
    [/^\/api\/runs\/([0-9a-f-]{36})\/cancel$/, (m) => cancelAction(o.pool, o.engine, m[1]!)],
    [/^\/api\/workflows\/([^/]+)\/pause$/, pause(true)],
    [/^\/api\/workflows\/([^/]+)\/resume$/, pause(false)],
  ];
}

async function runList(o: DashboardOptions, url: URL): Promise<unknown> {
  const p = url.searchParams;
  const since = p.get("since");
  const q = p.get("q")?.trim();
  return listRunSummaries(o.pool, {
    workflow: p.get("workflow") || undefined,
    statuses: p.get("status")?.split(",").filter(Boolean) || undefined,
    since: since && !Number.isNaN(Date.parse(since)) ? new Date(since) : undefined,
    idPrefix: q || undefined,
    limit: Math.min(Number(p.get("limit")) || 50, 500),
  });
}

async function act(
  routes: [RegExp, Act][],
  path: string,
  req: IncomingMessage,
  res: ServerResponse,
  via: Via,
) {
  const route = routes.find(([re]) => re.test(path));
  if (!route) return false;
  if (!sameOriginAction(req, via)) {
    sendJson(res, 403, { error: "actions must come from the dashboard's own page (same Origin, JSON body)" });
    return true;
  }
  await readBody(req);
  const out = await route[1](route[0].exec(path)!);
  if (out.ok) sendJson(res, 200, { ok: true, message: out.message });
  else sendJson(res, out.status, { error: out.message });
  return true;
}

async function login(o: DashboardOptions, req: IncomingMessage, res: ServerResponse, url: URL, base: string) {
  if (req.method === "GET") {
    send(
      res,
      200,
      "text/html; charset=utf-8",
      loginPage(base, { next: safeNext(url.searchParams.get("next")) }),
    );
    return true;
  }
  if (req.method !== "POST") return false;
  const form = new URLSearchParams(await readBody(req));
  const next = safeNext(form.get("next"));
  if (!sameOriginAction(req, "session", { form: true })) {
    send(res, 403, "text/html; charset=utf-8", loginPage(base, { next, error: "Sign in from this page." }));
    return true;
  }
  if (o.access.throttled()) {
    send(
      res,
      429,
      "text/html; charset=utf-8",
      loginPage(base, { next, error: "Too many failed attempts; wait a minute." }),
    );
    return true;
  }
  const session = o.access.login(form.get("token") ?? "");
  if (!session) {
    send(
      res,
      401,
      "text/html; charset=utf-8",
      loginPage(base, { next, error: "That is not the master key or the dashboard token." }),
    );
    return true;
  }
  res.writeHead(303, {
    location: `${base}${next === "/" ? "/" : next}`,
    "set-cookie": sessionCookieHeader(session, o.access.sessionMaxAgeSeconds(), req),
  });
  res.end();
  return true;
}

function refuse(req: IncomingMessage, res: ServerResponse, isPage: boolean, base: string, url: URL): true {
  if (isPage && req.method === "GET") {
    const next = url.pathname.slice(base.length) + url.search;
    res.writeHead(303, { location: `${base}/login?next=${encodeURIComponent(next)}` });
    res.end();
  } else {
    res.writeHead(401, { "content-type": "application/json", "www-authenticate": 'Bearer realm="skyflow"' });
    res.end(
      JSON.stringify({
        error: "sign in at /login, or send Authorization: Bearer <master key or dashboard token>",
      }),
    );
  }
  return true;
}

function serveAsset(bundle: Bundle, name: string, req: IncomingMessage, res: ServerResponse): boolean {
  const asset = bundle.assets.get(name);
  if (!asset) return false;
  const gzip = /\bgzip\b/.test(String(req.headers["accept-encoding"] ?? ""));
  res.writeHead(200, {
    "content-type": asset.type,
    "cache-control": "no-cache",
    etag: `"${asset.hash}"`,
    vary: "accept-encoding",
    ...(gzip ? { "content-encoding": "gzip" } : {}),
  });
  res.end(gzip ? asset.gzip : asset.body);
  return true;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (c: string) => {
      body += c;
      if (body.length > MAX_BODY) req.destroy();
    });
    req.on("end", () => resolve(body));
    req.on("error", reject);
  });
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  send(res, status, "application/json", JSON.stringify(body));
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, {
    "content-type": type,
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "content-security-policy":
      "default-src 'self'; img-src 'self' data:; object-src 'none'; frame-ancestors 'none'",
    "referrer-policy": "no-referrer",
  });
  res.end(body);
}
