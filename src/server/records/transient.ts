// Transient include (protocol §4.3): referenced records fetched for a query page and put under
// `_transient.<key>`, filtered by the caller's read access. Reads the database.
import type pg from "pg";
import { ident } from "../../db/pool.js";
import { SkygearServerError } from "../errors.js";
import type { AuthInfo } from "../types.js";
import { canAccess, storedAccess } from "./acl.js";
import { type RecordJSON, rowToRecordJSON } from "./codec.js";
import type { Database } from "./database.js";
import { scrubRecord } from "./field-acl.js";
import { distanceUnavailable, queryInvalid } from "./predicate.js";
import { rowJSON } from "./sql.js";
import { columnsCovering, type TableColumns, tableColumns } from "./table.js";
import { isTypedObject } from "./values.js";

const USER_REFS = new Set(["_owner_id", "_created_by", "_updated_by"]);

interface IncludeSpec {
  key: string;
  column: string;
  target: string;
}

/** `include: {outKey: keypath}` -> which column holds the reference and which type it points at. */
export function parseInclude(raw: unknown, columns: TableColumns, recordType: string): IncludeSpec[] {
  if (raw === undefined || raw === null) return [];
  if (typeof raw !== "object" || Array.isArray(raw))
    throw queryInvalid("include must be an object of key paths");
  return Object.entries(raw as Record<string, unknown>).map(([key, expr]) => {
    if (Array.isArray(expr) && expr[0] === "func") {
      if (expr[1] === "distance") throw distanceUnavailable();
      throw new SkygearServerError("NotSupported", `include "${key}": functions are not supported`);
    }
    if (!isTypedObject(expr) || expr.$type !== "keypath" || typeof expr.$val !== "string") {
      throw queryInvalid(`include "${key}" must be a key path`);
    }
    const column = expr.$val === "_owner" ? "_owner_id" : expr.$val;
    if (USER_REFS.has(column)) return { key, column, target: "user" };
    const info = columns.get(column);
    if (info?.type !== "ref" || !info.refType) {
      throw queryInvalid(
        `include "${key}": "${column}" is not a reference field of record type "${recordType}"`,
      );
    }
    return { key, column, target: info.refType };
  });
}

/** Adds `_transient` to each record (in place), fetching every referenced record once. */
export async function addTransient(
  pool: pg.Pool,
  schema: string,
  db: Database,
  auth: AuthInfo,
  specs: IncludeSpec[],
  rows: Record<string, unknown>[],
  records: RecordJSON[],
): Promise<void> {
  if (specs.length === 0) return;
  const found = new Map<string, Map<string, RecordJSON>>();
  for (const target of new Set(specs.map((s) => s.target))) {
    const ids = new Set<string>();
    for (const s of specs.filter((x) => x.target === target)) {
      for (const row of rows) if (typeof row[s.column] === "string") ids.add(row[s.column] as string);
    }
    found.set(target, await fetchReadable(pool, schema, db, auth, target, [...ids]));
  }
  records.forEach((rec, i) => {
    const transient: Record<string, unknown> = {};
    for (const s of specs) {
      const id = rows[i]![s.column];
      transient[s.key] = (typeof id === "string" && found.get(s.target)?.get(id)) || null;
    }
    rec._transient = transient;
  });
}

async function fetchReadable(
  pool: pg.Pool,
  schema: string,
  db: Database,
  auth: AuthInfo,
  target: string,
  ids: string[],
): Promise<Map<string, RecordJSON>> {
  const out = new Map<string, RecordJSON>();
  const cached = ids.length ? await tableColumns(pool, schema, target) : null;
  if (!cached) return out;
  const params: unknown[] = [ids];
  let sql = `SELECT ${rowJSON("x")} AS r FROM ${ident(schema)}.${ident(target)} x WHERE x._id = ANY($1)`;
  if (db.kind !== "union") {
    params.push(db.id);
    sql += " AND x._database_id = $2";
  }
  const { rows } = await pool.query<{ r: Record<string, unknown> }>(sql, params);
  const columns = await columnsCovering(pool, schema, target, cached, rows[0]?.r);
  for (const { r } of rows) {
    const access = {
      ownerId: String(r._owner_id),
      databaseId: String(r._database_id),
      access: storedAccess(r._access),
    };
    if (canAccess(access, auth, "read"))
      out.set(String(r._id), scrubRecord(target, rowToRecordJSON(target, r, columns), auth));
  }
  return out;
}
