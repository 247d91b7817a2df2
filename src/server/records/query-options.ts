// The non-predicate parts of a record:query request: sort, limit, offset, count, desired_keys. No I/O.
import { SkygearServerError } from "../errors.js";
import { distanceUnavailable, type PredicateContext, queryInvalid, resolveKeypath } from "./predicate.js";
import type { TableColumns } from "./table.js";
import { isTypedObject } from "./values.js";

function invalidArg(name: string, message: string): SkygearServerError {
  return new SkygearServerError("InvalidArgument", message, { info: { arguments: [name] } });
}

/** `sort: [[keypath, "asc"|"desc"], ...]` -> `ORDER BY ...` (empty when absent). */
export async function sortSQL(ctx: PredicateContext, raw: unknown): Promise<string> {
  if (raw === undefined || raw === null) return "";
  if (!Array.isArray(raw)) throw queryInvalid('sort must be an array of [keypath, "asc"|"desc"]');
  const parts: string[] = [];
  for (const item of raw) {
    if (!Array.isArray(item) || item.length !== 2)
      throw queryInvalid('each sort entry must be [keypath, "asc"|"desc"]');
    const [expr, dir] = item as [unknown, unknown];
    if (Array.isArray(expr) && expr[0] === "func") {
      if (expr[1] === "distance") throw distanceUnavailable();
      throw queryInvalid(`unknown sort function ${JSON.stringify(expr[1])}`);
    }
    if (!isTypedObject(expr) || expr.$type !== "keypath" || typeof expr.$val !== "string") {
      throw queryInvalid(`a sort entry must sort by a key path, got ${JSON.stringify(expr)}`);
    }
    if (dir !== "asc" && dir !== "desc")
      throw queryInvalid(`sort direction must be "asc" or "desc", got ${JSON.stringify(dir)}`);
    const e = await resolveKeypath(ctx, expr.$val);
    parts.push(`${e.sql} ${dir === "asc" ? "ASC" : "DESC"}`);
  }
  return parts.length ? ` ORDER BY ${parts.join(", ")}` : "";
}

/** limit (absent = none) and offset (applied only when > 0). */
export function pageOf(payload: Record<string, unknown>): { limit?: number; offset?: number } {
  const out: { limit?: number; offset?: number } = {};
  for (const name of ["limit", "offset"] as const) {
    const v = payload[name];
    if (v === undefined || v === null) continue;
    if (typeof v !== "number" || !Number.isFinite(v) || v < 0) {
      throw invalidArg(name, `${name} must be a non-negative number`);
    }
    if (name === "limit" || v > 0) out[name] = Math.floor(v);
  }
  return out;
}

/** desired_keys: null/absent = every field. An unknown key fails the request (108; v1: 10000). */
export function desiredKeysOf(
  raw: unknown,
  columns: TableColumns,
  recordType: string,
): Set<string> | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (!Array.isArray(raw) || raw.some((k) => typeof k !== "string")) {
    throw invalidArg("desired_keys", "desired_keys must be an array of field names");
  }
  const keys = new Set<string>();
  for (const k of raw as string[]) {
    if (k.startsWith("_")) continue; // reserved columns are always returned
    if (!columns.has(k)) {
      // v1 answers 10000 (500); a malformed request gets a 4xx here.
      throw new SkygearServerError(
        "InvalidArgument",
        `desired key "${k}" is not a field of record type "${recordType}"`,
        { info: { arguments: ["desired_keys"], unknown_field: k, record_type: recordType } },
      );
    }
    keys.add(k);
  }
  return keys;
}
