// record:delete (protocol §5.2): per id, refuse user records, 110 when missing, 102 without write access,
// 113 when another record still references it. Atomic mode as for save (115).
import type pg from "pg";
import { ident, withTransaction } from "../../db/pool.js";
import { SkygearServerError } from "../errors.js";
import { limitsOf } from "../limits.js";
import type { ActionRequest, ActionResult } from "../types.js";
import { canAccess, storedAccess } from "./acl.js";
import { formatRecordId, parseIdList, type RecordId } from "./ids.js";
import { itemError, saveAtomic, writableDatabase } from "./save.js";
import { recordTableExists } from "./table.js";

export async function deleteRecords(req: ActionRequest): Promise<ActionResult> {
  const { payload, app } = req;
  const db = writableDatabase(payload.database_id, req);
  const ids = parseIdList(payload.ids, limitsOf(app.config).records, "delete");
  // Looked up before any transaction: a cache miss must not need a second pooled client.
  const tables = new Set<string>();
  for (const type of new Set(ids.map((id) => id.type))) {
    if (await recordTableExists(app.pool, app.config.schema, type)) tables.add(type);
  }
  const del = async (client: pg.ClientBase, id: RecordId) => {
    await deleteOne(client, req, db.id, id, tables.has(id.type));
    return { _id: formatRecordId(id), _type: "record" };
  };
  if (payload.atomic === true) {
    return {
      result: await saveAtomic(
        req,
        ids.map((id) => ({ id, access: null, fields: new Map() })),
        (c, r) => del(c, r.id),
      ),
    };
  }
  const result: unknown[] = [];
  for (const id of ids) {
    try {
      result.push(await withTransaction(app.pool, (client) => del(client, id)));
    } catch (err) {
      result.push(itemError(req, err, formatRecordId(id)));
    }
  }
  return { result };
}

async function deleteOne(
  client: pg.ClientBase,
  req: ActionRequest,
  databaseId: string,
  id: RecordId,
  tableExists: boolean,
): Promise<void> {
  if (id.type === "user") throw new SkygearServerError("PermissionDenied", "cannot delete user record");
  const schema = req.app.config.schema;
  const notFound = () => new SkygearServerError("ResourceNotFound", "record not found");
  if (!tableExists) throw notFound();
  const table = `${ident(schema)}.${ident(id.type)}`;
  const { rows } = await client.query<{ owner: string; access: unknown }>(
    `SELECT _owner_id AS owner, _access AS access FROM ${table} WHERE _id = $1 AND _database_id = $2 FOR UPDATE`,
    [id.key, databaseId],
  );
  const row = rows[0];
  if (!row) throw notFound();
  if (!canAccess({ ownerId: row.owner, databaseId, access: storedAccess(row.access) }, req.auth, "write")) {
    throw new SkygearServerError("PermissionDenied", "no permission to perform operation");
  }
  await client.query(`DELETE FROM ${table} WHERE _id = $1 AND _database_id = $2`, [id.key, databaseId]);
}
