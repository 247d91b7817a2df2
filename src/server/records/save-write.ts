// Writes one record of record:save inside a transaction (protocol §5.1, §6.2, §6.3): fetch the stored row,
// check write or creation access, merge, apply the default access, then UPDATE or INSERT ... RETURNING.
import type pg from "pg";
import { ident } from "../../db/pool.js";
import { SkygearServerError } from "../errors.js";
import type { AuthInfo } from "../types.js";
import { type Ace, canAccess, storedAccess } from "./acl.js";
import type { IncomingRecord } from "./save-parse.js";
import { Params } from "./sql.js";
import type { TableColumns } from "./table.js";
import { type Value, valueSQL } from "./values.js";

export interface WriteTarget {
  schema: string;
  /** `_database_id` of the rows: '' for public, the owner's id for a private database. */
  databaseId: string;
  auth: AuthInfo;
}

const NOW = "(now() AT TIME ZONE 'UTC')";

/** Saves `rec`; returns the stored row as to_jsonb gives it. Errors are SkygearServerErrors or pg errors. */
export async function writeRecord(
  client: pg.ClientBase,
  target: WriteTarget,
  rec: IncomingRecord,
  columns: TableColumns,
): Promise<Record<string, unknown>> {
  const { auth } = target;
  const userId = auth.userId;
  if (userId === null)
    throw new SkygearServerError("NotAuthenticated", "saving records needs a logged-in user");
  const table = `${ident(target.schema)}.${ident(rec.id.type)}`;
  const found = await client.query<{ r: Record<string, unknown> }>(
    `SELECT to_jsonb(t) AS r FROM ${table} t WHERE t._id = $1 AND t._database_id = $2 FOR UPDATE`,
    [rec.id.key, target.databaseId],
  );
  const existing = found.rows[0]?.r;
  const rules = await typeRules(client, target.schema, rec.id.type);
  if (existing) {
    const row = {
      ownerId: String(existing._owner_id),
      databaseId: target.databaseId,
      access: storedAccess(existing._access),
    };
    if (!canAccess(row, auth, "write"))
      throw new SkygearServerError("PermissionDenied", "no permission to modify this record");
  } else {
    checkCreate(rec, auth, userId, rules.creators);
  }
  // Given _access wins; otherwise the type's default (even over a stored ACL, as v1 does); else keep.
  const access: Ace[] | null =
    rec.access ?? rules.defaultAccess ?? (existing ? storedAccess(existing._access) : null);
  const fields = storable(rec.fields, columns);
  const params = new Params();
  const accessSQL = `${params.add(access === null ? null : JSON.stringify(access))}::jsonb`;
  if (existing) {
    const sets = [`_access = ${accessSQL}`, `_updated_at = ${NOW}`, `_updated_by = ${params.add(userId)}`];
    for (const [name, v] of fields) sets.push(`${ident(name)} = ${valueSQL(v, params)}`);
    const sql = `UPDATE ${table} AS t SET ${sets.join(", ")} WHERE t._id = ${params.add(rec.id.key)}
      AND t._database_id = ${params.add(target.databaseId)} RETURNING to_jsonb(t) AS r`;
    return (await client.query<{ r: Record<string, unknown> }>(sql, params.values)).rows[0]!.r;
  }
  const user = params.add(userId);
  const cols = [
    "_id",
    "_database_id",
    "_owner_id",
    "_access",
    "_created_at",
    "_created_by",
    "_updated_at",
    "_updated_by",
  ];
  const vals = [params.add(rec.id.key), params.add(target.databaseId), user, accessSQL, NOW, user, NOW, user];
  for (const [name, v] of fields) {
    cols.push(ident(name));
    vals.push(valueSQL(v, params));
  }
  const sql = `INSERT INTO ${table} AS t (${cols.join(", ")}) VALUES (${vals.join(", ")}) RETURNING to_jsonb(t) AS r`;
  return (await client.query<{ r: Record<string, unknown> }>(sql, params.values)).rows[0]!.r;
}

/** Creation ACL (`_record_creation`) and the built-in user table: users are made by auth:signup. */
function checkCreate(rec: IncomingRecord, auth: AuthInfo, userId: string, creators: string[]): void {
  if (auth.accessType === "master") return;
  if (rec.id.type === "user" && rec.id.key !== userId) {
    throw new SkygearServerError("PermissionDenied", "cannot create a user record for another user");
  }
  if (creators.length > 0 && !creators.some((r) => auth.roles.includes(r))) {
    throw new SkygearServerError(
      "PermissionDenied",
      `no permission to create records of type "${rec.id.type}"`,
    );
  }
}

async function typeRules(
  client: pg.ClientBase,
  schema: string,
  recordType: string,
): Promise<{ defaultAccess: Ace[] | null; creators: string[] }> {
  const s = ident(schema);
  const { rows } = await client.query<{ dflt: unknown; creators: string[] }>(
    `SELECT (SELECT default_access FROM ${s}._record_default_access WHERE record_type = $1) AS dflt,
            ARRAY(SELECT role_id FROM ${s}._record_creation WHERE record_type = $1) AS creators`,
    [recordType],
  );
  return { defaultAccess: storedAccess(rows[0]?.dflt), creators: rows[0]?.creators ?? [] };
}

/** Fields that become columns: seq and unknown values are never written; null needs an existing column. */
function storable(fields: Map<string, Value>, columns: TableColumns): Map<string, Value> {
  const out = new Map<string, Value>();
  for (const [name, v] of fields) {
    if (v.kind === "seq" || v.kind === "unknown" || v.kind === "keypath") continue;
    if (v.kind === "null" && !columns.has(name)) continue;
    const col = columns.get(name);
    if (v.kind === "null" && col?.type === "seq") continue;
    out.set(name, v);
  }
  return out;
}
