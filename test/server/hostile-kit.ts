// The hostile suites' shared kit (issue 20): a real server on loopback with a captured log, three signed-up
// users, a fingerprint of everything the app schema holds, and the check that an answer is a clean refusal
// (a 4xx with a Skygear error, no database message) that wrote nothing and logged no secret.
import { expect } from "vitest";
import { DEFAULT_LIMITS, type ServerLimits } from "../../src/server/limits.js";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { capturedLogger } from "../helpers/log.js";
import { startTestServer, TEST_API_KEY, TEST_MASTER_KEY, type TestServer } from "../helpers/server.js";
import { post, type RawResponse } from "./http-client.js";

export interface User {
  id: string;
  token: string;
  password: string;
  username: string;
}

/** A server under attack: where it is, its keys, and three signed-up users. */
export interface Target {
  url: string;
  apiKey: string;
  masterKey: string;
  alice: User;
  bob: User;
  mallory: User;
}

export interface Hostile extends Target {
  db: TestDatabase;
  srv: TestServer;
  /** Every log line the server wrote (level trace). */
  lines: string[];
  /** Keys, tokens and passwords: none may appear in a log line or an answer. */
  secrets: string[];
  close(): Promise<void>;
}

/** Fragments of Postgres's own error messages: an answer holding one leaked a database message. */
export const DB_MESSAGE =
  /invalid input syntax|duplicate key value|syntax error at|relation "|column "|(?<!token )does not exist|stack depth|index row|bind message|out of range for type|unterminated|invalid byte sequence|unsupported Unicode|PostgreSQL|pq: |at character \d/i;

export async function startHostile(label: string, limits: Partial<ServerLimits> = {}): Promise<Hostile> {
  const db = await createTestDatabase(label);
  const { log, lines } = capturedLogger("trace");
  const srv = await startTestServer(db.pool, { log, limits: { ...DEFAULT_LIMITS, ...limits } });
  const target = await signupUsers(srv.url, TEST_API_KEY, TEST_MASTER_KEY);
  return {
    ...target,
    db,
    srv,
    lines,
    secrets: secretsOf(target),
    async close() {
      await srv.close();
      await db.drop();
    },
  };
}

/** alice, bob and mallory, signed up on the server at `url`. */
export async function signupUsers(url: string, apiKey: string, masterKey: string): Promise<Target> {
  const signup = async (username: string): Promise<User> => {
    const password = `pw-${username}-${Math.random().toString(36).slice(2)}`;
    const r = await post(
      url,
      "/auth/signup",
      { auth_data: { username }, password },
      { "X-Skygear-API-Key": apiKey },
    );
    expect(r.status).toBe(200);
    return { id: r.json.result.user_id, token: r.json.result.access_token, password, username };
  };
  const [alice, bob, mallory] = [await signup("alice"), await signup("bob"), await signup("mallory")];
  return { url, apiKey, masterKey, alice, bob, mallory };
}

/** The keys, tokens and passwords of a target. */
export function secretsOf(t: Target): string[] {
  return [t.masterKey, t.apiKey, ...[t.alice, t.bob, t.mallory].flatMap((u) => [u.token, u.password])];
}

export const clientKey = () => ({ "X-Skygear-API-Key": TEST_API_KEY });
export const masterKey = () => ({ "X-Skygear-API-Key": TEST_MASTER_KEY });
export const as = (u: User) => ({ "X-Skygear-API-Key": TEST_API_KEY, "X-Skygear-Access-Token": u.token });

/**
 * The app schema's tables, columns and constraints (`schema`), and a digest of every row (`data`): any
 * write changes one of them.
 */
export async function fingerprint(
  db: TestDatabase,
  schema = "app_testapp",
): Promise<{ schema: string; data: string }> {
  const { rows } = await db.pool.query<{ t: string; cols: string }>(
    `SELECT c.relname AS t, string_agg(a.attname, ',' ORDER BY a.attnum) AS cols
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
      WHERE n.nspname = $1 AND c.relkind = 'r' GROUP BY c.relname ORDER BY c.relname`,
    [schema],
  );
  const out: string[] = [];
  const data: string[] = [];
  for (const { t, cols } of rows) {
    const table = `"${schema}"."${t.replace(/"/g, '""')}"`;
    const d = await db.pool.query<{ h: string }>(
      `SELECT md5(coalesce(string_agg(x::text, ',' ORDER BY x::text), '')) AS h
         FROM (SELECT jsonb_strip_nulls(to_jsonb(r.*)) AS x FROM ${table} r) s`,
    );
    out.push(`${t}(${cols})`);
    data.push(`${t}=${d.rows[0]!.h}`);
  }
  const cons = await db.pool.query<{ n: string }>(
    `SELECT string_agg(conname, ',' ORDER BY conname) AS n FROM pg_constraint c
       JOIN pg_namespace n ON n.oid = c.connamespace WHERE n.nspname = $1`,
    [schema],
  );
  return { schema: `${out.join("\n")}\n${cons.rows[0]!.n}`, data: data.join("\n") };
}

/**
 * A 4xx whose body is a v1 error envelope with a known name and code, and no database message. v1's one
 * 5xx for a refused request is NotSupported (111, 501: e.g. writing to _union), kept for fidelity.
 */
export function expectRefusal(r: RawResponse, label: string): void {
  const notSupported = r.status === 501 && r.json?.error?.code === 111;
  if (!notSupported) {
    expect(r.status, `${label}: ${r.text.slice(0, 400)}`).toBeGreaterThanOrEqual(400);
    expect(r.status, `${label}: ${r.text.slice(0, 400)}`).toBeLessThan(500);
  }
  expectSkygearError(r.json?.error, label);
  expect(r.text, label).not.toMatch(DB_MESSAGE);
}

/** A 200 whose every result item is a per-item error with a 4xx-class code (never 10000). */
export function expectItemRefusals(r: RawResponse, label: string): void {
  expect(r.status, `${label}: ${r.text.slice(0, 400)}`).toBe(200);
  const items = r.json?.result as Record<string, unknown>[];
  expect(Array.isArray(items) && items.length > 0, `${label}: ${r.text.slice(0, 400)}`).toBe(true);
  for (const item of items) {
    expect(item._type, `${label}: ${r.text.slice(0, 400)}`).toBe("error");
    expectSkygearError(item, label);
    expect(item.code, label).not.toBe(10000);
  }
  expect(r.text, label).not.toMatch(DB_MESSAGE);
}

const NAMES: Record<number, string> = {
  101: "NotAuthenticated",
  102: "PermissionDenied",
  103: "AccessKeyNotAccepted",
  104: "AccessTokenNotAccepted",
  105: "InvalidCredentials",
  107: "BadRequest",
  108: "InvalidArgument",
  109: "Duplicated",
  110: "ResourceNotFound",
  111: "NotSupported",
  113: "ConstraintViolated",
  114: "IncompatibleSchema",
  115: "AtomicOperationFailure",
  117: "UndefinedOperation",
  120: "RecordQueryInvalid",
  123: "DeniedArgument",
  124: "RecordQueryDenied",
};

function expectSkygearError(err: unknown, label: string): void {
  const e = err as { name?: unknown; code?: unknown; message?: unknown } | undefined;
  expect(e, label).toBeDefined();
  expect(typeof e!.message, label).toBe("string");
  expect(NAMES[e!.code as number], `${label}: ${JSON.stringify(e)}`).toBe(e!.name);
}

/** No secret in any log line or answer text seen so far. */
export function expectNoSecrets(h: { lines: string[]; secrets: string[] }, texts: string[] = []): void {
  const all = [...h.lines, ...texts].join("\n");
  for (const s of h.secrets) expect(all.includes(s), `a secret reached the log or an answer`).toBe(false);
}

/**
 * Sends `c` and checks it was refused cleanly and changed no row (nor the schema, unless v1 would extend
 * it first); returns the answer's text.
 */
export async function runCase(
  db: TestDatabase,
  schema: string,
  c: { name: string; item?: boolean; ddl?: boolean },
  send: () => Promise<RawResponse>,
): Promise<string> {
  const before = await fingerprint(db, schema);
  const r = await send();
  if (c.item) expectItemRefusals(r, c.name);
  else expectRefusal(r, c.name);
  const after = await fingerprint(db, schema);
  expect(after.data, `${c.name} wrote to the database`).toBe(before.data);
  if (!c.ddl) expect(after.schema, `${c.name} changed the schema`).toBe(before.schema);
  return r.text;
}
