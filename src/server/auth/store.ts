// SQL over the app's `_auth`, `_auth_role` and `"user"` tables: what the preprocessors and the auth actions
// read and write. One function per statement; table names are schema-qualified, never search_path.
import type pg from "pg";
import { ident } from "../../db/pool.js";

export interface AuthRow {
  id: string;
  password: string | null;
  tokenValidSince: Date | null;
  lastLoginAt: Date | null;
  lastSeenAt: Date | null;
  disabled: boolean;
  disabledMessage: string | null;
  disabledExpiry: Date | null;
}

/** Columns this module needs that the shared layout lacks (v1 keeps last_login_at on _auth). */
export async function ensureAuthColumns(pool: pg.Pool, schema: string): Promise<void> {
  await pool.query(
    `ALTER TABLE ${ident(schema)}._auth ADD COLUMN IF NOT EXISTS last_login_at timestamp without time zone`,
  );
}

const AUTH_COLUMNS = `a.id, a.password, a.token_valid_since, a.last_login_at, a.last_seen_at, a.disabled,
  a.disabled_message, a.disabled_expiry`;

function rolesOf(schema: string): string {
  return `ARRAY(SELECT role_id FROM ${ident(schema)}._auth_role WHERE auth_id = a.id ORDER BY role_id)`;
}

export async function findAuth(pool: pg.Pool, schema: string, id: string): Promise<AuthRow | undefined> {
  const r = await pool.query(`SELECT ${AUTH_COLUMNS} FROM ${ident(schema)}._auth a WHERE a.id = $1`, [id]);
  return r.rows[0] ? toAuthRow(r.rows[0]) : undefined;
}

/** The auth row and its roles in one round trip (every authenticated request does this). */
export async function findAuthWithRoles(
  pool: pg.Pool,
  schema: string,
  id: string,
): Promise<(AuthRow & { roles: string[] }) | undefined> {
  const r = await pool.query(
    `SELECT ${AUTH_COLUMNS}, ${rolesOf(schema)} AS roles FROM ${ident(schema)}._auth a WHERE a.id = $1`,
    [id],
  );
  const row = r.rows[0];
  return row ? { ...toAuthRow(row), roles: row.roles } : undefined;
}

/** The owner of a live token digest, with issue time and roles, in one round trip. */
export async function findAuthByTokenDigest(
  pool: pg.Pool,
  schema: string,
  digest: string,
): Promise<(AuthRow & { roles: string[]; issuedAt: Date }) | undefined> {
  const s = ident(schema);
  const r = await pool.query(
    `SELECT ${AUTH_COLUMNS}, ${rolesOf(schema)} AS roles, t.issued_at
       FROM ${s}._skyflow_token t JOIN ${s}._auth a ON a.id = t.auth_id
      WHERE t.token = $1 AND t.revoked_at IS NULL`,
    [digest],
  );
  const row = r.rows[0];
  return row ? { ...toAuthRow(row), roles: row.roles, issuedAt: row.issued_at } : undefined;
}

// biome-ignore lint/suspicious/noExplicitAny: a pg row
function toAuthRow(row: any): AuthRow {
  return {
    id: row.id,
    password: row.password,
    tokenValidSince: utc(row.token_valid_since),
    lastLoginAt: utc(row.last_login_at),
    lastSeenAt: utc(row.last_seen_at),
    disabled: row.disabled,
    disabledMessage: row.disabled_message,
    disabledExpiry: utc(row.disabled_expiry),
  };
}

/** pg reads `timestamp without time zone` as local time; v1 stores UTC there. */
function utc(d: Date | null): Date | null {
  return d ? new Date(d.getTime() - d.getTimezoneOffset() * 60_000) : null;
}

/** Creates the row when missing (master key on-the-fly creation, §1.4); returns whether it was created. */
export async function ensureAuth(
  pool: pg.Pool | pg.PoolClient,
  schema: string,
  id: string,
): Promise<boolean> {
  const r = await pool.query(
    `INSERT INTO ${ident(schema)}._auth (id) VALUES ($1) ON CONFLICT (id) DO NOTHING`,
    [id],
  );
  return (r.rowCount ?? 0) > 0;
}

export async function insertAuth(
  client: pg.PoolClient,
  schema: string,
  id: string,
  passwordHash: string | null,
  providerInfo: Record<string, unknown> = {},
): Promise<void> {
  await client.query(
    `INSERT INTO ${ident(schema)}._auth (id, password, provider_info, last_login_at)
     VALUES ($1, $2, $3, now() AT TIME ZONE 'UTC')`,
    [id, passwordHash, JSON.stringify(providerInfo)],
  );
}

/** A new password hash; tokens issued before now stop working (v1 AuthInfo.SetPassword). */
export async function setPassword(pool: pg.Pool, schema: string, id: string, hash: string): Promise<void> {
  await pool.query(
    `UPDATE ${ident(schema)}._auth SET password = $2, token_valid_since = now() AT TIME ZONE 'UTC' WHERE id = $1`,
    [id, hash],
  );
}

/** `me`: the _auth row's last_seen_at = now. */
export async function touchSeen(pool: pg.Pool, schema: string, id: string): Promise<void> {
  await pool.query(
    `UPDATE ${ident(schema)}._auth SET last_seen_at = now() AT TIME ZONE 'UTC' WHERE id = $1`,
    [id],
  );
}

export async function touchLogin(pool: pg.Pool, schema: string, id: string): Promise<void> {
  await pool.query(
    `UPDATE ${ident(schema)}._auth SET last_login_at = now() AT TIME ZONE 'UTC', last_seen_at = now() AT TIME ZONE 'UTC'
      WHERE id = $1`,
    [id],
  );
}

export async function loadRoles(pool: pg.Pool, schema: string, authId: string): Promise<string[]> {
  const r = await pool.query<{ role_id: string }>(
    `SELECT role_id FROM ${ident(schema)}._auth_role WHERE auth_id = $1 ORDER BY role_id`,
    [authId],
  );
  return r.rows.map((x) => x.role_id);
}

/** Roles marked by_default, given to every new user at signup (v1 `role:default`). */
export async function assignDefaultRoles(
  client: pg.PoolClient,
  schema: string,
  authId: string,
): Promise<void> {
  const s = ident(schema);
  await client.query(
    `INSERT INTO ${s}._auth_role (auth_id, role_id) SELECT $1, id FROM ${s}._role WHERE by_default
     ON CONFLICT DO NOTHING`,
    [authId],
  );
}

/** The user id whose record has this username or email (auth_data keys of §11). */
export async function findUserByAuthData(
  pool: pg.Pool,
  schema: string,
  authData: Record<string, string>,
): Promise<string | undefined> {
  const keys = Object.keys(authData);
  if (keys.length === 0) return undefined;
  const where = keys.map((k, i) => `${ident(k)} = $${i + 1}`).join(" AND ");
  const r = await pool.query<{ _id: string }>(
    `SELECT _id FROM ${ident(schema)}."user" WHERE ${where} LIMIT 1`,
    keys.map((k) => authData[k]),
  );
  return r.rows[0]?._id;
}
