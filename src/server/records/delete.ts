// record:delete (protocol §5.2): per id, refuse user records, 110 when missing, 102 without write access,
// 113 when another record still references it. Atomic mode as for save (115).
import type pg from "pg";
import { ident, withTransaction } from "../../db/pool.js";
import { SkygearServerError } from "../errors.js";
import { limitsOf } from "../limits.js";
import type { ActionRequest, ActionResult } from "../types.js";
import { canAccess, storedAccess } from "./acl.js";
import { formatRecordId, parseIdList, type RecordId } from "./ids.js";
import { toSkygearError } from "./pg-errors.js";
import { itemError, writableDatabase } from "./save.js";
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
  const atomic = payload.atomic === true;
  const run = (client: pg.ClientBase) => deleteLikeV1(client, req, db.id, ids, tables, atomic);
  const errors = atomic
    ? await withTransaction(app.pool, run)
    : await (async () => {
        const client = await app.pool.connect();
        try {
          return await run(client);
        } finally {
          client.release();
        }
      })();
  return {
    result: ids.map((id) => {
      const key = formatRecordId(id);
      const err = errors.get(key);
      return err ? itemError(req, err, key) : { _id: key, _type: "record" };
    }),
  };
}

/**
 * v1's two passes (S: recordutil.RecordDeleteHandler): every id is checked first (user records, missing,
 * no write access), then each record that passed is deleted. Errors are kept per id, so an id given twice
 * shares one answer: the second delete of it finds nothing, and both say so. Atomic: any error rolls all
 * back with 115 and every failing id in `info`.
 */
async function deleteLikeV1(
  client: pg.ClientBase,
  req: ActionRequest,
  databaseId: string,
  ids: RecordId[],
  tables: Set<string>,
  atomic: boolean,
): Promise<Map<string, SkygearServerError>> {
  const errors = new Map<string, SkygearServerError>();
  const passed: RecordId[] = [];
  for (const id of ids) {
    try {
      await checkDeletable(client, req, databaseId, id, tables.has(id.type), atomic);
      passed.push(id);
    } catch (err) {
      errors.set(formatRecordId(id), toSkygearError(err));
    }
  }
  for (const id of passed) {
    const key = formatRecordId(id);
    try {
      const table = `${ident(req.app.config.schema)}.${ident(id.type)}`;
      const r = await client.query(`DELETE FROM ${table} WHERE _id = $1 AND _database_id = $2`, [
        id.key,
        databaseId,
      ]);
      if (r.rowCount === 0) {
        errors.set(
          key,
          new SkygearServerError("UnexpectedError", "skydb: Record not found for the specified key"),
        );
      }
    } catch (err) {
      errors.set(key, toSkygearError(err));
      if (atomic) break; // the transaction is aborted: nothing more can run in it
    }
  }
  if (atomic && errors.size > 0) {
    throw new SkygearServerError(
      "AtomicOperationFailure",
      "Atomic Operation rolled back due to one or more errors",
      {
        info: Object.fromEntries([...errors].map(([k, e]) => [k, e.toJSON()])),
      },
    );
  }
  return errors;
}

async function checkDeletable(
  client: pg.ClientBase,
  req: ActionRequest,
  databaseId: string,
  id: RecordId,
  tableExists: boolean,
  lock: boolean,
): Promise<void> {
  if (id.type === "user") throw new SkygearServerError("PermissionDenied", "cannot delete user record");
  const schema = req.app.config.schema;
  const notFound = () => new SkygearServerError("ResourceNotFound", "record not found");
  if (!tableExists) throw notFound();
  const table = `${ident(schema)}.${ident(id.type)}`;
  const { rows } = await client.query<{ owner: string; access: unknown }>(
    `SELECT _owner_id AS owner, _access AS access FROM ${table} WHERE _id = $1 AND _database_id = $2${lock ? " FOR UPDATE" : ""}`,
    [id.key, databaseId],
  );
  const row = rows[0];
  if (!row) throw notFound();
  if (!canAccess({ ownerId: row.owner, databaseId, access: storedAccess(row.access) }, req.auth, "write")) {
    throw new SkygearServerError("PermissionDenied", "no permission to perform operation");
  }
}
