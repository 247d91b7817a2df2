// record:fetch (protocol §5.3): one record or error item per id (110 not found, 102 no read access), one
// SELECT per record type.
import { ident } from "../../db/pool.js";
import { SkygearServerError } from "../errors.js";
import { limitsOf } from "../limits.js";
import type { ActionRequest, ActionResult } from "../types.js";
import { canAccess, storedAccess } from "./acl.js";
import { type RecordJSON, rowToRecordJSON } from "./codec.js";
import { resolveDatabase } from "./database.js";
import { scrubRecord } from "./field-acl.js";
import { formatRecordId, parseIdList } from "./ids.js";
import { toSkygearError } from "./pg-errors.js";
import { prepared, rowJSON } from "./sql.js";
import { columnsCovering, tableColumns } from "./table.js";

export async function fetchRecords(req: ActionRequest): Promise<ActionResult> {
  const { payload, app, auth } = req;
  const db = resolveDatabase(payload.database_id, auth);
  const ids = parseIdList(payload.ids, limitsOf(app.config).records);
  const schema = app.config.schema;
  const found = new Map<string, RecordJSON | "denied">();
  try {
    for (const type of new Set(ids.map((id) => id.type))) {
      const cached = await tableColumns(app.pool, schema, type);
      if (!cached) continue;
      const keys = ids.filter((id) => id.type === type).map((id) => id.key);
      const params: unknown[] = [keys];
      let sql = `SELECT ${rowJSON("t")} AS r FROM ${ident(schema)}.${ident(type)} t WHERE t._id = ANY($1)`;
      if (db.kind !== "union") {
        params.push(db.id);
        sql += " AND t._database_id = $2";
      }
      const { rows } = await app.pool.query<{ r: Record<string, unknown> }>(prepared(sql, params));
      const columns = await columnsCovering(app.pool, schema, type, cached, rows[0]?.r);
      for (const { r } of rows) {
        const readable = canAccess(
          {
            ownerId: String(r._owner_id),
            databaseId: String(r._database_id),
            access: storedAccess(r._access),
          },
          auth,
          "read",
        );
        found.set(
          `${type}/${String(r._id)}`,
          readable ? scrubRecord(type, rowToRecordJSON(type, r, columns), auth) : "denied",
        );
      }
    }
  } catch (err) {
    throw toSkygearError(err, "query");
  }
  const result = ids.map((id) => {
    const key = formatRecordId(id);
    const rec = found.get(key);
    if (!rec) return new SkygearServerError("ResourceNotFound", "record not found").toItem(key);
    if (rec === "denied") {
      return new SkygearServerError("PermissionDenied", "no permission to perform operation").toItem(key);
    }
    return rec;
  });
  return { result };
}
