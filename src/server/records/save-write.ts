// Writes one record of record:save inside a transaction (protocol §5.1, §6.2, §6.3): fetch the stored row
// and the type's rules, check write or creation access, merge, then UPDATE or INSERT ... RETURNING.
import type pg from "pg";
import { ident } from "../../db/pool.js";
import { SkygearServerError } from "../errors.js";
import type { AuthInfo } from "../types.js";
import { type Ace, canAccess, storedAccess } from "./acl.js";
import { deniedArgument, deniedWrites } from "./field-acl.js";
import type { IncomingRecord } from "./save-parse.js";
import { Params, prepared, rowJSON } from "./sql.js";
import type { TableColumns } from "./table.js";
import { type Value, valueSQL } from "./values.js";

export interface WriteTarget {
  schema: string;
  /** `_database_id` of the rows: '' for public, the owner's id for a private database. */
  databaseId: string;
  auth: AuthInfo;
  /** Atomic saves refuse a denied field (123); others drop it silently. */
  atomic: boolean;
}

type Row = Record<string, unknown>;
interface Lookup {
  existing: Row | undefined;
  defaultAccess: Ace[] | null;
  creators: string[];
}

const NOW = "(now() AT TIME ZONE 'UTC')";
const SYSTEM = [
  "_id",
  "_database_id",
  "_owner_id",
  "_access",
  "_created_at",
  "_created_by",
  "_updated_at",
  "_updated_by",
];

/** Saves `rec`; returns the stored row as to_jsonb gives it. Errors are SkygearServerErrors or pg errors. */
export async function writeRecord(
  client: pg.ClientBase,
  target: WriteTarget,
  rec: IncomingRecord,
  columns: TableColumns,
): Promise<Row> {
  const userId = target.auth.userId;
  if (userId === null)
    throw new SkygearServerError("NotAuthenticated", "saving records needs a logged-in user");
  const fields = storable(rec.fields, columns);
  // Two attempts: a concurrent save may insert the same new record between our lookup and our insert.
  for (let attempt = 0; ; attempt++) {
    const found = await lookup(client, target, rec);
    const owner = found.existing ? String(found.existing._owner_id) : userId;
    const allowed = writableFields(rec.id.type, fields, owner, target);
    if (found.existing) return update(client, target, rec, userId, allowed, found);
    checkCreate(rec, target.auth, userId, found.creators);
    const access = rec.access ?? found.defaultAccess;
    // The second attempt inserts without ON CONFLICT, so a real duplicate (the same key in another
    // database, a taken username) surfaces as the unique violation it is (109).
    const inserted = await insert(client, target, rec, userId, allowed, access, attempt === 0);
    if (inserted) return inserted;
  }
}

/** The stored row (locked) and the type's default access and creation roles, in one round trip. */
async function lookup(client: pg.ClientBase, target: WriteTarget, rec: IncomingRecord): Promise<Lookup> {
  const s = ident(target.schema);
  const { rows } = await client.query<{ r: Row | null; dflt: unknown; creators: string[] }>(
    prepared(
      `WITH cur AS (SELECT ${rowJSON("t")} AS r FROM ${s}.${ident(rec.id.type)} t
                     WHERE t._id = $1 AND t._database_id = $2 FOR UPDATE)
       SELECT (SELECT r FROM cur) AS r,
              (SELECT default_access FROM ${s}._record_default_access WHERE record_type = $3) AS dflt,
              ARRAY(SELECT role_id FROM ${s}._record_creation WHERE record_type = $3) AS creators`,
      [rec.id.key, target.databaseId, rec.id.type],
    ),
  );
  const row = rows[0]!;
  return { existing: row.r ?? undefined, defaultAccess: storedAccess(row.dflt), creators: row.creators };
}

async function update(
  client: pg.ClientBase,
  target: WriteTarget,
  rec: IncomingRecord,
  userId: string,
  fields: Map<string, Value>,
  found: Lookup,
): Promise<Row> {
  const existing = found.existing!;
  const row = {
    ownerId: String(existing._owner_id),
    databaseId: target.databaseId,
    access: storedAccess(existing._access),
  };
  if (!canAccess(row, target.auth, "write")) {
    throw new SkygearServerError("PermissionDenied", "no permission to perform operation");
  }
  // Given _access wins; otherwise the type's default (even over a stored ACL, as v1 does); else keep.
  const access = rec.access ?? found.defaultAccess ?? row.access;
  const params = new Params();
  const sets = [
    `_access = ${params.add(access === null ? null : JSON.stringify(access))}::jsonb`,
    `_updated_at = ${NOW}`,
    `_updated_by = ${params.add(userId)}`,
  ];
  for (const [name, v] of fields) sets.push(`${ident(name)} = ${valueSQL(v, params)}`);
  const sql = `UPDATE ${ident(target.schema)}.${ident(rec.id.type)} AS t SET ${sets.join(", ")}
    WHERE t._id = ${params.add(rec.id.key)} AND t._database_id = ${params.add(target.databaseId)}
    RETURNING ${rowJSON("t")} AS r`;
  return (await client.query<{ r: Row }>(sql, params.values)).rows[0]!.r;
}

/**
 * INSERT; with `yieldOnConflict`, undefined when a conflicting row exists (then committed: ON CONFLICT waits
 * for a concurrent inserter). Every unique index is an arbiter: naming only UNIQUE(_id) still let a
 * concurrent insert fail on the primary key.
 */
async function insert(
  client: pg.ClientBase,
  target: WriteTarget,
  rec: IncomingRecord,
  userId: string,
  fields: Map<string, Value>,
  access: Ace[] | null,
  yieldOnConflict: boolean,
): Promise<Row | undefined> {
  const params = new Params();
  const user = params.add(userId);
  const accessSQL = `${params.add(access === null ? null : JSON.stringify(access))}::jsonb`;
  const cols = [...SYSTEM];
  const vals = [params.add(rec.id.key), params.add(target.databaseId), user, accessSQL, NOW, user, NOW, user];
  for (const [name, v] of fields) {
    cols.push(ident(name));
    vals.push(valueSQL(v, params));
  }
  const sql = `INSERT INTO ${ident(target.schema)}.${ident(rec.id.type)} AS t (${cols.join(", ")})
    VALUES (${vals.join(", ")})${yieldOnConflict ? " ON CONFLICT DO NOTHING" : ""} RETURNING ${rowJSON("t")} AS r`;
  return (await client.query<{ r: Row }>(sql, params.values)).rows[0]?.r;
}

/** Creation ACL (`_record_creation`) and the built-in user table: users are made by auth:signup. */
function checkCreate(rec: IncomingRecord, auth: AuthInfo, userId: string, creators: string[]): void {
  if (auth.accessType === "master") return;
  if (rec.id.type === "user" && rec.id.key !== userId) {
    throw new SkygearServerError("PermissionDenied", "cannot create a user record for another user");
  }
  if (creators.length > 0 && !creators.some((r) => auth.roles.includes(r))) {
    throw new SkygearServerError("PermissionDenied", "no permission to create");
  }
}

/** Field access for writes: protected fields of someone else's record are refused or dropped. */
function writableFields(
  recordType: string,
  fields: Map<string, Value>,
  ownerId: string,
  target: WriteTarget,
): Map<string, Value> {
  const denied = deniedWrites(recordType, fields.keys(), ownerId, target.auth);
  if (denied.length === 0) return fields;
  if (target.atomic) throw deniedArgument(denied);
  return new Map([...fields].filter(([name]) => !denied.includes(name)));
}

/** Fields that become columns: seq and unknown values are never written; null needs an existing column. */
function storable(fields: Map<string, Value>, columns: TableColumns): Map<string, Value> {
  const out = new Map<string, Value>();
  for (const [name, v] of fields) {
    if (v.kind === "seq" || v.kind === "unknown" || v.kind === "keypath") continue;
    const col = columns.get(name);
    if (v.kind === "null" && (!col || col.type === "seq")) continue;
    out.set(name, v);
  }
  return out;
}
