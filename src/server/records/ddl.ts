// SQL text for record tables: the CREATE TABLE with Skygear's system columns (S: pq/schema.go
// createTableStmt). No I/O. Skygear's pending_notification trigger is deliberately not attached.
import { ident } from "../../db/pool.js";

/** SQL creating a record table with the system columns (S: pq/schema.go createTableStmt); no trigger. */
export function createRecordTableSQL(schema: string, recordType: string): string {
  const table = `${ident(schema)}.${ident(recordType)}`;
  return `CREATE TABLE IF NOT EXISTS ${table} (
    _id text NOT NULL,
    _database_id text NOT NULL,
    _owner_id text NOT NULL,
    _access jsonb,
    _created_at timestamp without time zone NOT NULL,
    _created_by text,
    _updated_at timestamp without time zone NOT NULL,
    _updated_by text,
    PRIMARY KEY (_id, _database_id, _owner_id),
    UNIQUE (_id)
  )`;
}

/** The advisory lock key under which every DDL of an app schema runs (bootstrap and column extension). */
export function ddlLockKey(schema: string): string {
  return `skyflow:ddl:${schema}`;
}
