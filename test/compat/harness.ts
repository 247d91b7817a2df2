// The differential harness: the same requests to `skyflow serve`'s handler and to the real Skygear v1.7.3
// server, each answer normalised only where the two must differ (generated ids, timestamps, tokens), then
// compared. A session keeps, per server, the users it signed up (alias -> id and token), so a request can act
// as a user (`as`), impersonate one with the master key (`actAs`), or name a user's id (`{{alias}}` in any
// string of the body).
import { isDeepStrictEqual } from "node:util";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { startTestServer, TEST_API_KEY, TEST_MASTER_KEY, type TestServer } from "../helpers/server.js";
import { type RealServer, reportUnavailable, startRealServer } from "./real-server.js";

export interface Pair {
  sky: Target;
  real: Target;
  stop(): Promise<void>;
}

export type PairStart = { ok: true; pair: Pair } | { ok: false; reason: string };

export interface Answer {
  status: number;
  body: unknown;
}

/** One server and what a session learnt from it. */
export class Target {
  readonly users = new Map<string, { id: string; token: string }>();
  constructor(
    readonly name: "sky" | "real",
    readonly url: string,
  ) {}

  userId(alias: string): string {
    const u = this.users.get(alias);
    if (!u) throw new Error(`no user ${alias} on ${this.name}`);
    return u.id;
  }

  /** Replaces `{{alias}}` in every string of `v` by that user's id on this server. */
  fill(v: unknown): unknown {
    if (typeof v === "string") return v.replace(/\{\{(\w+)\}\}/g, (_, a: string) => this.userId(a));
    if (Array.isArray(v)) return v.map((x) => this.fill(x));
    if (v && typeof v === "object") {
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [this.fill(k) as string, this.fill(x)]));
    }
    return v;
  }

  async send(req: Request): Promise<Answer> {
    const body: Record<string, unknown> = { ...(this.fill(req.body) as Record<string, unknown>) };
    const key =
      req.key ?? (req.as === undefined && req.actAs === undefined ? "api" : req.actAs ? "master" : "api");
    if (key === "api") body.api_key = TEST_API_KEY;
    if (key === "master") body.api_key = TEST_MASTER_KEY;
    if (req.as) body.access_token = this.users.get(req.as)?.token ?? "no-such-token";
    if (req.actAs) body._user_id = this.userId(req.actAs);
    const res = await fetch(new URL(req.path ?? "", this.url), {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {}
    const r = (parsed as { result?: { user_id?: unknown; access_token?: unknown } } | null)?.result;
    if (req.remember && typeof r?.user_id === "string" && typeof r.access_token === "string") {
      this.users.set(req.remember, { id: r.user_id, token: r.access_token });
    }
    return { status: res.status, body: parsed };
  }

  /** Signs `alias` up (username = alias unless given) and remembers its id and token. */
  async signup(alias: string, extra: Record<string, unknown> = {}): Promise<Answer> {
    const ans = await this.send({
      body: { action: "auth:signup", auth_data: { username: alias }, password: `pw-${alias}`, ...extra },
    });
    const r = (ans.body as { result?: { user_id?: string; access_token?: string } }).result;
    if (ans.status !== 200 || !r?.user_id || !r.access_token) {
      throw new Error(`signup ${alias} on ${this.name}: ${ans.status} ${JSON.stringify(ans.body)}`);
    }
    this.users.set(alias, { id: r.user_id, token: r.access_token });
    return ans;
  }
}

export interface Request {
  body: Record<string, unknown>;
  /** Path after the endpoint, e.g. `record/query` (default: `/`). */
  path?: string;
  /** Which key: the API key (default), the master key, or none. */
  key?: "api" | "master" | "none";
  /** Act as this signed-up user (its access token). */
  as?: string;
  /** Master key + `_user_id` of this user. */
  actAs?: string;
  /** Remember the user_id and access_token of a successful answer (signup, login, me) as this alias. */
  remember?: string;
}

const TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;
const TOKEN_KEYS = new Set(["access_token"]);

/**
 * Normalises an answer of `t`: timestamps become `<time>`, tokens `<token>`, a signed-up user's id
 * `<alias>`, any other uuid `<uuid#n>` numbered in order of first appearance within `seen` (one map per
 * server and case, so two answers that reuse an id reuse its number). Everything else is kept.
 */
export function normalise(v: unknown, t: Target, seen: Map<string, string> = new Map()): unknown {
  const ids = new Map<string, string>();
  for (const [alias, u] of t.users) ids.set(u.id, `<${alias}>`);
  const walk = (x: unknown, key?: string): unknown => {
    if (typeof x === "string") {
      if (key && TOKEN_KEYS.has(key)) return "<token>";
      if (TIME.test(x)) return "<time>";
      return x.replace(UUID, (u) => {
        const known = ids.get(u);
        if (known) return known;
        let n = seen.get(u);
        if (!n) {
          n = `<uuid#${seen.size + 1}>`;
          seen.set(u, n);
        }
        return n;
      });
    }
    if (Array.isArray(x)) return x.map((y) => walk(y));
    if (x && typeof x === "object") {
      return Object.fromEntries(Object.entries(x).map(([k, y]) => [walk(k) as string, walk(y, k)]));
    }
    return x;
  };
  return walk(v);
}

export interface Compared {
  same: boolean;
  sky: Answer;
  real: Answer;
}

/** Sends `req` to both servers, in turn, and compares the normalised answers. */
export async function both(
  pair: Pair,
  req: Request,
  seen: { sky: Map<string, string>; real: Map<string, string> } = { sky: new Map(), real: new Map() },
): Promise<Compared> {
  const real = await pair.real.send(req);
  const sky = await pair.sky.send(req);
  const n = (a: Answer, t: Target, s: Map<string, string>): Answer => ({
    status: a.status,
    body: normalise(a.body, t, s),
  });
  const nr = n(real, pair.real, seen.real);
  const ns = n(sky, pair.sky, seen.sky);
  return { same: isDeepStrictEqual(nr, ns), sky: ns, real: nr };
}

/** A readable account of a difference, for a failing assertion. */
export function describeDiff(label: string, req: Request, c: Compared): string {
  return [
    `${label}: skyflow and the real server answered differently`,
    `request: ${JSON.stringify(req)}`,
    `real:    ${c.real.status} ${JSON.stringify(c.real.body)}`,
    `skyflow: ${c.sky.status} ${JSON.stringify(c.sky.body)}`,
  ].join("\n");
}

/**
 * Starts both servers for one test file: skyflow's handler on a fresh test database, the real server on a
 * database of its own, with the same keys and app name. When the real one cannot start, returns the reason
 * (and reports it loudly; see reportUnavailable).
 */
export async function startPair(label: string, appName = "compat"): Promise<PairStart> {
  const db: TestDatabase = await createTestDatabase(`compat_${label}`);
  const real = await startRealServer({
    databaseUrl: db.url,
    label,
    apiKey: TEST_API_KEY,
    masterKey: TEST_MASTER_KEY,
    appName,
  });
  if (!real.ok) {
    await db.drop();
    reportUnavailable(label, real.reason);
    return real;
  }
  let sky: TestServer;
  try {
    sky = await startTestServer(db.pool, { appName });
  } catch (e) {
    await real.server.stop();
    await db.drop();
    throw e;
  }
  const stopReal = killOnExit(real.server);
  return {
    ok: true,
    pair: {
      sky: new Target("sky", sky.url),
      real: new Target("real", real.server.url),
      async stop() {
        await sky.close();
        await real.server.stop();
        stopReal();
        await db.drop();
      },
    },
  };
}

/** Kills the real server if this process exits without stopping it; returns the unregister function. */
function killOnExit(s: RealServer): () => void {
  const onExit = () => {
    try {
      process.kill(s.pid, "SIGKILL");
    } catch {}
  };
  process.once("exit", onExit);
  return () => process.off("exit", onExit);
}
