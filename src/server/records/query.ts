// record:query (protocol §4): predicate, sort, paging, count, desired_keys and transient include over one
// record table, with the database and access filters of §6.
import type pg from "pg";
import { ident } from "../../db/pool.js";
import { SkygearServerError } from "../errors.js";
import { limitsOf } from "../limits.js";
import type { ActionRequest, ActionResult, AuthInfo } from "../types.js";
import { accessFilterSQL, readableRowSQL } from "./acl.js";
import { rowToRecordJSON } from "./codec.js";
import { type Database, databaseFilter, resolveDatabase } from "./database.js";
import { fieldHidden, scrubRecord } from "./field-acl.js";
import { validRecordType } from "./ids.js";
import { toSkygearError } from "./pg-errors.js";
import { joinsSQL, type PredicateContext, predicateSQL } from "./predicate.js";
import { byIdLookup, coalescedLookup } from "./query-batch.js";
import { checkQuerySize } from "./query-limits.js";
import { desiredKeysOf, pageOf, sortSQL } from "./query-options.js";
import { checkQueryLikeV1 } from "./query-parse.js";
import { Params, prepared, rowJSON } from "./sql.js";
import { columnsCovering, forgetSchema, type TableColumns, tableColumns } from "./table.js";
import { addTransient, parseInclude } from "./transient.js";

interface Plan {
  recordType: string;
  db: Database;
  auth: AuthInfo;
  payload: Record<string, unknown>;
  /** Coalesced lookups: these _ids instead of the payload's predicate, sort, paging and count. */
  ids?: string[];
}

export async function queryRecords(req: ActionRequest): Promise<ActionResult> {
  const { payload, auth, app } = req;
  // v1 resolves the database in a preprocessor, then parses the whole query before it looks at a table.
  const db = resolveDatabase(payload.database_id, auth);
  checkQueryLikeV1(payload);
  const recordType = payload.record_type;
  if (typeof recordType !== "string" || !validRecordType(recordType)) {
    throw new SkygearServerError("InvalidArgument", "record_type must be a non-empty record type name", {
      info: { arguments: ["record_type"] },
    });
  }
  checkQuerySize(payload, limitsOf(app.config));
  const plan: Plan = { recordType, db, auth, payload };
  const { pool } = app;
  const schema = app.config.schema;
  const lookup = byIdLookup(payload, recordType, plan.db, auth);
  const run = (p: Plan) =>
    lookup
      ? coalescedLookup(pool, lookup, recordType, {
          single: () => runQuery(pool, schema, p),
          many: (ids) => runQuery(pool, schema, { ...p, ids }),
        })
      : runQuery(pool, schema, p);
  try {
    return await run(plan);
  } catch (err) {
    // A field we do not know may have been added by another process since we cached the table: re-read once.
    const info =
      err instanceof SkygearServerError ? (err.info as { unknown_field?: string } | undefined) : undefined;
    if (!info?.unknown_field) throw err;
    forgetSchema(pool, schema);
    return run(plan);
  }
}

async function runQuery(pool: pg.Pool, schema: string, plan: Plan): Promise<ActionResult> {
  const { recordType, db, auth, payload, ids } = plan;
  const wantCount = !ids && payload.count === true;
  const columns = await tableColumns(pool, schema, recordType);
  if (!columns) return wantCount ? { result: [], info: { count: 0 } } : { result: [] };
  const params = new Params();
  const ctx: PredicateContext = {
    schema,
    recordType,
    columns,
    columnsOf: (t) => tableColumns(pool, schema, t),
    params,
    joins: new Map(),
    hidden: (type, field) => fieldHidden(type, field, auth),
    readable: (alias) => readableRowSQL(alias, auth, params),
  };
  const where: string[] = [];
  const dbCond = databaseFilter(db, "t", (v) => params.add(v));
  if (dbCond) where.push(dbCond);
  if (db.kind === "public" && auth.accessType !== "master") where.push(accessFilterSQL("t", auth, params));
  if (ids) where.push(`t._id = ANY(${params.add(ids)}::text[])`);
  else if (payload.predicate !== undefined && payload.predicate !== null) {
    where.push(await predicateSQL(ctx, payload.predicate));
  }
  const order = ids ? "" : await sortSQL(ctx, payload.sort);
  const page = ids ? {} : pageOf(payload);
  const desired = desiredKeysOf(payload.desired_keys, columns, recordType);
  const include = parseInclude(payload.include, columns, recordType);

  const cond = where.length ? ` WHERE ${where.join(" AND ")}` : "";
  const from = `FROM ${ident(schema)}.${ident(recordType)} t${joinsSQL(ctx)}${cond}`;
  const whereParams = [...params.values];
  let sql = `SELECT ${rowJSON("t")} AS r${wantCount ? ", COUNT(*) OVER () AS c" : ""} ${from}${order}`;
  if (page.limit !== undefined) sql += ` LIMIT ${params.add(page.limit)}`;
  if (page.offset !== undefined) sql += ` OFFSET ${params.add(page.offset)}`;

  try {
    const { rows } = await pool.query<{ r: Record<string, unknown>; c?: string }>(
      prepared(sql, params.values),
    );
    const raw = rows.map((row) => row.r);
    const cols: TableColumns = await columnsCovering(pool, schema, recordType, columns, raw[0]);
    const records = raw.map((r) =>
      scrubRecord(recordType, rowToRecordJSON(recordType, r, cols, desired), auth),
    );
    await addTransient(pool, schema, db, auth, include, raw, records);
    if (!wantCount) return { result: records };
    let count = rows.length ? Number(rows[0]!.c) : 0;
    if (!rows.length) {
      const res = await pool.query<{ n: string }>(`SELECT COUNT(*) AS n ${from}`, whereParams);
      count = Number(res.rows[0]!.n);
    }
    return { result: records, info: { count } };
  } catch (err) {
    throw toSkygearError(err, "query");
  }
}
