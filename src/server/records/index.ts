// The record actions of the development server (protocol §4, §5), as ActionSpecs for the router.
import type { ActionSpec } from "../types.js";
import { deleteRecords } from "./delete.js";
import { fetchRecords } from "./fetch.js";
import { queryRecords } from "./query.js";
import { saveRecords } from "./save.js";

export { type RecordJSON, rowToRecordJSON, timestampToRFC3339 } from "./codec.js";
export { type TableColumns, tableColumns } from "./table.js";
export type { ColumnInfo, FieldType } from "./types.js";

export const recordActions: ActionSpec[] = [
  { name: "record:query", auth: "authenticator", handle: queryRecords },
  { name: "record:fetch", auth: "authenticator", handle: fetchRecords },
  { name: "record:save", auth: "require_auth", handle: saveRecords },
  { name: "record:delete", auth: "require_auth", handle: deleteRecords },
];
