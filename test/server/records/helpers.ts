// Shared test fixtures for the record actions: an AppContext over a test database and the three kinds of
// caller (master key, logged-in client user, anonymous client).
import type pg from "pg";
import { silentLogger } from "../../../src/log.js";
import { ensureAppSchema } from "../../../src/server/app-schema.js";
import { SkygearServerError } from "../../../src/server/errors.js";
import { recordActions } from "../../../src/server/records/index.js";
import type { ActionResult, AppContext, AuthInfo } from "../../../src/server/types.js";

export const SCHEMA = "app_rectest";

export async function makeApp(pool: pg.Pool, schema = SCHEMA): Promise<AppContext> {
  await ensureAppSchema(pool, schema);
  return {
    pool,
    config: { appName: schema.slice(4), schema, apiKey: "test-api-key", masterKey: "test-master-key" },
    log: silentLogger(),
    publish: () => {},
  };
}

export const master: AuthInfo = { accessType: "master", userId: "_god", roles: [] };
export const anonymous: AuthInfo = { accessType: "client", userId: null, roles: [] };
export function user(id: string, roles: string[] = []): AuthInfo {
  return { accessType: "client", userId: id, roles };
}
export function asMaster(userId: string): AuthInfo {
  return { accessType: "master", userId, roles: [] };
}

export async function call(
  app: AppContext,
  action: string,
  payload: Record<string, unknown>,
  auth: AuthInfo,
): Promise<ActionResult> {
  const spec = recordActions.find((a) => a.name === action);
  if (!spec) throw new Error(`no action ${action}`);
  return spec.handle({ action, payload: { action, ...payload }, auth, app });
}

/** Runs the action and returns the SkygearServerError it throws (fails the test when it succeeds). */
export async function callError(
  app: AppContext,
  action: string,
  payload: Record<string, unknown>,
  auth: AuthInfo,
): Promise<SkygearServerError> {
  try {
    await call(app, action, payload, auth);
  } catch (err) {
    if (err instanceof SkygearServerError) return err;
    throw err;
  }
  throw new Error(`${action} succeeded but an error was expected`);
}

export type Rec = Record<string, unknown>;

export async function save(app: AppContext, records: Rec[], auth: AuthInfo, extra: Rec = {}): Promise<Rec[]> {
  return (await call(app, "record:save", { records, ...extra }, auth)).result as Rec[];
}

export async function query(app: AppContext, payload: Rec, auth: AuthInfo): Promise<Rec[]> {
  return (await call(app, "record:query", payload, auth)).result as Rec[];
}

export const kp = (path: string) => ({ $type: "keypath", $val: path });

export async function countRows(pool: pg.Pool, table: string, schema = SCHEMA): Promise<number> {
  const exists = await pool.query("SELECT to_regclass($1) AS t", [`"${schema}"."${table}"`]);
  if (exists.rows[0].t === null) return 0;
  const { rows } = await pool.query(`SELECT count(*)::int AS n FROM "${schema}"."${table}"`);
  return rows[0].n;
}
