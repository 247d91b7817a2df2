// Incoming records of record:save (protocol §3.1, §5.1): `_id`, `_access` and the user fields decoded; every
// other `_` key dropped. Also the columns a batch needs, with conflicting types refused (114). No I/O.
import { SkygearServerError } from "../errors.js";
import { nestingDepth } from "../request-guard.js";
import { type Ace, parseAccess } from "./acl.js";
import { parseRecordId, type RecordId, validFieldName } from "./ids.js";
import { type ColumnSpec, describeSpec } from "./types.js";
import { columnSpecOf, decodeValue, type Value } from "./values.js";

export interface IncomingRecord {
  id: RecordId;
  /** null = not given (null or missing): the default access, or the stored one, applies. */
  access: Ace[] | null;
  fields: Map<string, Value>;
}

function malformed(message: string, args: string[] = ["records"]): SkygearServerError {
  return new SkygearServerError("InvalidArgument", message, { info: { arguments: args } });
}

/**
 * One record object -> IncomingRecord, or a 108 error (the item then has no `_id`). A field's value may
 * nest at most `maxDepth` levels (Postgres and JSON encoding both recurse).
 */
export function parseIncoming(raw: unknown, maxDepth: number): IncomingRecord {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw))
    throw malformed("a record must be an object");
  const obj = raw as Record<string, unknown>;
  // v1's texts and `arguments: ["id"]` (S: handler/record.go InitRecord).
  if (typeof obj._id !== "string") throw malformed("missing required fields", ["id"]);
  const id = parseRecordId(obj._id);
  if (!id) throw malformed(`record: "_id" should be of format '{type}/{id}', got "${obj._id}"`, ["id"]);
  const access = parseAccess(obj._access);
  const fields = new Map<string, Value>();
  for (const [name, v] of Object.entries(obj)) {
    // v1 drops reserved keys and the empty name silently (its regression test #333).
    if (name === "" || name.startsWith("_")) continue;
    if (!validFieldName(name)) throw malformed(`invalid field name ${JSON.stringify(name)}`, [name]);
    if (nestingDepth(v, maxDepth) > maxDepth) {
      throw malformed(`field "${name}" nests deeper than ${maxDepth} levels (SKYFLOW_MAX_VALUE_DEPTH)`, [
        name,
      ]);
    }
    const value = decodeValue(v, name);
    if (value.kind === "keypath") throw malformed(`field "${name}": a keypath is not record data`, [name]);
    fields.set(name, value);
  }
  return { id, access, fields };
}

/** The columns each record type needs for this batch; two records disagreeing on a field's type -> 114. */
export function neededColumns(records: IncomingRecord[]): Map<string, Map<string, ColumnSpec>> {
  const byType = new Map<string, Map<string, ColumnSpec>>();
  for (const rec of records) {
    let cols = byType.get(rec.id.type);
    if (!cols) {
      cols = new Map();
      byType.set(rec.id.type, cols);
    }
    for (const [name, value] of rec.fields) {
      const spec = columnSpecOf(value);
      if (!spec) continue;
      const prev = cols.get(name);
      if (prev && describeSpec(prev) !== describeSpec(spec)) {
        throw new SkygearServerError(
          "IncompatibleSchema",
          `field "${name}" of record type "${rec.id.type}" is saved as both ${describeSpec(prev)} and ${describeSpec(spec)}`,
        );
      }
      cols.set(name, spec);
    }
  }
  return byType;
}
