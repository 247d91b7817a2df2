// Record tables: creation, on-the-fly column extension (protocol §7) and an in-memory cache of each table's
// columns and their Skygear field types. DDL runs under one advisory lock per app schema and re-checks inside.
import { createHash } from "node:crypto";
import type pg from "pg";
import { ident } from "../../db/pool.js";
import { SkygearServerError } from "../errors.js";
import { createRecordTableSQL, ddlLockKey } from "./ddl.js";
import {
  type ColumnInfo,
  type ColumnSpec,
  columnFromPg,
  conflictText,
  specFits,
  sqlTypeOf,
} from "./types.js";

export type TableColumns = ReadonlyMap<string, ColumnInfo>;
type Queryable = pg.Pool | pg.ClientBase;

const cache = new WeakMap<pg.Pool, Map<string, TableColumns>>();

function cacheOf(pool: pg.Pool): Map<string, TableColumns> {
  let m = cache.get(pool);
  if (!m) {
    m = new Map();
    cache.set(pool, m);
  }
  return m;
}

const COLUMNS_SQL = `
  SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS pg_type,
         pg_get_expr(d.adbin, d.adrelid) AS dflt,
         (SELECT cf.relname FROM pg_constraint c JOIN pg_class cf ON cf.oid = c.confrelid
           WHERE c.conrelid = a.attrelid AND c.contype = 'f' AND c.conkey = ARRAY[a.attnum]::int2[]
           LIMIT 1) AS ref_table
    FROM pg_attribute a
    LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
   WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped`;

/** Reads a table's columns from the catalog; null when the table does not exist. */
export async function loadTableColumns(
  q: Queryable,
  schema: string,
  table: string,
): Promise<Map<string, ColumnInfo> | null> {
  const { rows } = await q.query<{
    name: string;
    pg_type: string;
    dflt: string | null;
    ref_table: string | null;
  }>(COLUMNS_SQL, [`${ident(schema)}.${ident(table)}`]);
  if (rows.length === 0) return null;
  return new Map(rows.map((r) => [r.name, columnFromPg(r.pg_type, r.dflt, r.ref_table)]));
}

/** The cached columns of a record table, read from the catalog on a miss; null when there is no table. */
export async function tableColumns(
  pool: pg.Pool,
  schema: string,
  table: string,
): Promise<TableColumns | null> {
  const key = `${schema}.${table}`;
  const hit = cacheOf(pool).get(key);
  if (hit) return hit;
  const cols = await loadTableColumns(pool, schema, table);
  if (cols) cacheOf(pool).set(key, cols);
  return cols;
}

/** Drops every cached table of `schema`, so the next use reads the catalog again. */
export function forgetSchema(pool: pg.Pool, schema: string): void {
  const m = cacheOf(pool);
  for (const key of [...m.keys()]) if (key.startsWith(`${schema}.`)) m.delete(key);
}

/**
 * `cols`, or fresh columns when `row` (a to_jsonb row) holds a column the cache does not know: another
 * process added it since we cached the table.
 */
export async function columnsCovering(
  pool: pg.Pool,
  schema: string,
  table: string,
  cols: TableColumns,
  row: Record<string, unknown> | undefined,
): Promise<TableColumns> {
  if (!row || Object.keys(row).every((k) => cols.has(k))) return cols;
  cacheOf(pool).delete(`${schema}.${table}`);
  return (await tableColumns(pool, schema, table)) ?? cols;
}

export async function recordTableExists(pool: pg.Pool, schema: string, table: string): Promise<boolean> {
  return (await tableColumns(pool, schema, table)) !== null;
}

/** Creates the record table when missing; returns its columns. */
export async function ensureRecordTable(pool: pg.Pool, schema: string, table: string): Promise<TableColumns> {
  return ensureColumns(pool, schema, table, new Map());
}

/**
 * Makes sure `table` exists and has every wanted column with a compatible type. A column of another type
 * answers IncompatibleSchema (114). Cheap when the cache already satisfies the request.
 */
export async function ensureColumns(
  pool: pg.Pool,
  schema: string,
  table: string,
  wanted: ReadonlyMap<string, ColumnSpec>,
): Promise<TableColumns> {
  const cached = cacheOf(pool).get(`${schema}.${table}`);
  if (cached && satisfied(cached, wanted)) return cached;
  const client = await pool.connect();
  try {
    await client.query("BEGIN");
    await client.query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", [ddlLockKey(schema)]);
    const created = await extendLocked(client, schema, table, wanted);
    await client.query("COMMIT");
    for (const t of created) cacheOf(pool).delete(`${schema}.${t}`);
  } catch (err) {
    await client.query("ROLLBACK").catch(() => {});
    cacheOf(pool).delete(`${schema}.${table}`);
    throw err;
  } finally {
    client.release();
  }
  const cols = await loadTableColumns(pool, schema, table);
  if (!cols) throw new Error(`record table ${table} vanished after creation`);
  cacheOf(pool).set(`${schema}.${table}`, cols);
  return cols;
}

/** True when every wanted column exists with a fitting type (a conflict is re-checked under the lock). */
function satisfied(cols: TableColumns, wanted: ReadonlyMap<string, ColumnSpec>): boolean {
  for (const [name, spec] of wanted) {
    const have = cols.get(name);
    if (!have) return false;
    if (!specFits(spec, have)) return false;
  }
  return true;
}

/** Inside the DDL lock: re-reads the catalog, creates what is missing; returns the tables it touched. */
async function extendLocked(
  client: pg.ClientBase,
  schema: string,
  table: string,
  wanted: ReadonlyMap<string, ColumnSpec>,
): Promise<string[]> {
  const touched = [table];
  await client.query(createRecordTableSQL(schema, table));
  const cols = (await loadTableColumns(client, schema, table)) ?? new Map<string, ColumnInfo>();
  for (const [name, spec] of wanted) {
    const have = cols.get(name);
    if (have) {
      if (!specFits(spec, have)) {
        throw new SkygearServerError("IncompatibleSchema", conflictText(have, spec));
      }
      continue;
    }
    if (spec.type === "ref") {
      await client.query(createRecordTableSQL(schema, spec.refType));
      touched.push(spec.refType);
    }
    await client.query(addColumnSQL(schema, table, name, spec));
  }
  return touched;
}

/**
 * v1's constraint name when it fits Postgres's 63 bytes; else its first bytes and a hash of the whole
 * name, so two long names sharing their first 63 bytes (which Postgres would truncate to one) stay apart.
 */
export function constraintName(name: string): string {
  if (Buffer.byteLength(name) <= MAX_IDENTIFIER_BYTES) return name;
  const hash = createHash("sha256").update(name).digest("hex").slice(0, 12);
  let head = name;
  while (Buffer.byteLength(head) > MAX_IDENTIFIER_BYTES - hash.length - 1) head = head.slice(0, -1);
  // A cut between the halves of a surrogate pair would leave a lone one.
  if (/[\uD800-\uDBFF]$/.test(head)) head = head.slice(0, -1);
  return `${head}_${hash}`;
}

const MAX_IDENTIFIER_BYTES = 63;

function addColumnSQL(schema: string, table: string, name: string, spec: ColumnSpec): string {
  const t = `${ident(schema)}.${ident(table)}`;
  if (spec.type === "ref") {
    const fk = ident(constraintName(`fk_${name}_${spec.refType}__id`));
    return `ALTER TABLE ${t} ADD COLUMN ${ident(name)} text,
      ADD CONSTRAINT ${fk} FOREIGN KEY (${ident(name)}) REFERENCES ${ident(schema)}.${ident(spec.refType)} (_id)`;
  }
  return `ALTER TABLE ${t} ADD COLUMN ${ident(name)} ${sqlTypeOf(spec.type)}`;
}
