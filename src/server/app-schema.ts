// The Postgres layout of one Skygear app (protocol §7): schema `app_<name>`, the system tables we use, the
// built-in "user" record table, and skyflow's token and push-outbox tables. Idempotent, under an advisory lock.
import type pg from "pg";
import { ident } from "../db/pool.js";
import { createRecordTableSQL, ddlLockKey } from "./records/ddl.js";

export { createRecordTableSQL } from "./records/ddl.js";
export {
  ensureColumns,
  ensureRecordTable,
  loadTableColumns,
  recordTableExists,
} from "./records/table.js";

/** The latest full schema version of Skygear v1 (S: pq/migration/migration.go). */
export const SKYGEAR_SCHEMA_VERSION = "7469be11899e";

const SCHEMA_NAME = /^[a-z0-9_]{1,63}$/;

function systemTablesSQL(schema: string): string[] {
  const s = ident(schema);
  return [
    `CREATE TABLE IF NOT EXISTS ${s}._version (version_num text NOT NULL PRIMARY KEY)`,
    `INSERT INTO ${s}._version (version_num) SELECT '${SKYGEAR_SCHEMA_VERSION}'
       WHERE NOT EXISTS (SELECT 1 FROM ${s}._version)`,
    `CREATE TABLE IF NOT EXISTS ${s}._auth (
       id text PRIMARY KEY, password text, provider_info jsonb NOT NULL DEFAULT '{}'::jsonb,
       token_valid_since timestamp without time zone, last_seen_at timestamp without time zone,
       disabled boolean NOT NULL DEFAULT false, disabled_message text,
       disabled_expiry timestamp without time zone)`,
    `CREATE TABLE IF NOT EXISTS ${s}._role (
       id text PRIMARY KEY, by_default boolean NOT NULL DEFAULT false, is_admin boolean NOT NULL DEFAULT false)`,
    `INSERT INTO ${s}._role (id, by_default, is_admin) VALUES ('Admin', false, true) ON CONFLICT (id) DO NOTHING`,
    `CREATE TABLE IF NOT EXISTS ${s}._auth_role (
       auth_id text NOT NULL, role_id text NOT NULL, PRIMARY KEY (auth_id, role_id))`,
    `CREATE TABLE IF NOT EXISTS ${s}._device (
       id text PRIMARY KEY, type text, token text, auth_id text, topic text,
       last_registered_at timestamp without time zone NOT NULL DEFAULT (now() AT TIME ZONE 'UTC'))`,
    `CREATE INDEX IF NOT EXISTS _device_auth_id_idx ON ${s}._device (auth_id)`,
    `CREATE TABLE IF NOT EXISTS ${s}._record_creation (
       record_type text NOT NULL, role_id text NOT NULL, PRIMARY KEY (record_type, role_id))`,
    `CREATE TABLE IF NOT EXISTS ${s}._record_default_access (
       record_type text PRIMARY KEY, default_access jsonb)`,
    `CREATE TABLE IF NOT EXISTS ${s}._record_field_access (
       record_type text NOT NULL, record_field text NOT NULL, user_role text NOT NULL,
       writable boolean NOT NULL, readable boolean NOT NULL, comparable boolean NOT NULL,
       discoverable boolean NOT NULL, PRIMARY KEY (record_type, record_field, user_role))`,
    createRecordTableSQL(schema, "user"),
    `ALTER TABLE ${s}."user" ADD COLUMN IF NOT EXISTS username text, ADD COLUMN IF NOT EXISTS email text,
       ADD COLUMN IF NOT EXISTS last_login_at timestamp without time zone`,
    `CREATE UNIQUE INDEX IF NOT EXISTS user_username_key ON ${s}."user" (username) WHERE username IS NOT NULL`,
    `CREATE UNIQUE INDEX IF NOT EXISTS user_email_key ON ${s}."user" (email) WHERE email IS NOT NULL`,
    `CREATE TABLE IF NOT EXISTS ${s}._skyflow_token (
       token text PRIMARY KEY, auth_id text NOT NULL, issued_at timestamptz NOT NULL DEFAULT now(),
       revoked_at timestamptz)`,
    `CREATE INDEX IF NOT EXISTS _skyflow_token_auth_id_idx ON ${s}._skyflow_token (auth_id)`,
    `CREATE TABLE IF NOT EXISTS ${s}._skyflow_push (
       id bigserial PRIMARY KEY, kind text NOT NULL CHECK (kind IN ('user', 'device')), ids jsonb NOT NULL,
       notification jsonb NOT NULL, topic text, result jsonb, created_at timestamptz NOT NULL DEFAULT now())`,
  ];
}

/**
 * Creates schema `schema` and its system tables when missing. Safe to call at every start and from two
 * processes at once: everything runs in one transaction under the schema's DDL advisory lock, the same lock
 * that record-table creation and column extension take.
 */
export async function ensureAppSchema(pool: pg.Pool, schema: string): Promise<void> {
  if (!SCHEMA_NAME.test(schema)) throw new Error(`invalid app schema name "${schema}"`);
  const client = await pool.connect();
  try {
    await client.query("BEGIN");
    await client.query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", [ddlLockKey(schema)]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${ident(schema)}`);
    for (const sql of systemTablesSQL(schema)) await client.query(sql);
    await client.query("COMMIT");
  } catch (err) {
    await client.query("ROLLBACK").catch(() => {});
    throw err;
  } finally {
    client.release();
  }
}
