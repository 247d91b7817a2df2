// A stored row (as `to_jsonb(row)` gives it) -> record JSON exactly as record:query answers (protocol §3.1).
// Pure, so trigger code can encode rows it got from a NOTIFY payload or a trigger table. No I/O.
import type { ColumnInfo } from "./types.js";

export type RecordJSON = Record<string, unknown>;

/**
 * A `timestamp` from to_jsonb ("2026-01-02T03:04:05.123456", UTC by our convention) -> RFC 3339 in UTC
 * ("2026-01-02T03:04:05.123456Z"). Strings that already carry an offset are passed through (`+00:00` -> Z).
 */
export function timestampToRFC3339(ts: string): string {
  if (/[Zz]$/.test(ts)) return ts;
  if (ts.endsWith("+00:00")) return `${ts.slice(0, -6)}Z`;
  if (/[+-]\d{2}(:\d{2})?$/.test(ts.slice(19))) return ts;
  return `${ts.replace(" ", "T")}Z`;
}

/**
 * Encodes one row. `row` holds the system columns (`_id` as the key part, `_owner_id`, `_access`, ...) and
 * user columns as to_jsonb renders them; `columns` gives each user column's Skygear type (from the catalog:
 * see tableColumns in table.ts). Without column info a value is passed through as plain JSON, so dates
 * and refs come out as strings. NULL columns are omitted; `_database_id` and other `_` columns are not sent.
 * `desiredKeys`, when given, limits the user fields to those names.
 */
export function rowToRecordJSON(
  recordType: string,
  row: Record<string, unknown>,
  columns?: ReadonlyMap<string, ColumnInfo>,
  desiredKeys?: ReadonlySet<string>,
): RecordJSON {
  const out: RecordJSON = { _id: `${recordType}/${String(row._id)}`, _type: "record" };
  out._access = row._access ?? null;
  if (typeof row._owner_id === "string" && row._owner_id !== "") out._ownerID = row._owner_id;
  for (const key of ["_created_at", "_updated_at"] as const) {
    if (typeof row[key] === "string") out[key] = timestampToRFC3339(row[key] as string);
  }
  for (const key of ["_created_by", "_updated_by"] as const) {
    if (typeof row[key] === "string" && row[key] !== "") out[key] = row[key];
  }
  for (const [name, value] of Object.entries(row)) {
    if (name.startsWith("_") || value === null || value === undefined) continue;
    if (desiredKeys && !desiredKeys.has(name)) continue;
    out[name] = encodeColumn(value, columns?.get(name));
  }
  return out;
}

function encodeColumn(value: unknown, info: ColumnInfo | undefined): unknown {
  switch (info?.type) {
    case "date":
      return { $type: "date", $date: typeof value === "string" ? timestampToRFC3339(value) : value };
    case "ref":
      return { $type: "ref", $id: `${info.refType}/${String(value)}` };
    case "geo":
      return geoJSON(value);
    case "unknown":
      return { $type: "unknown", $underlying_type: info.underlying ?? "unknown" };
    default:
      return value;
  }
}

/** A location as to_jsonb renders it: "(lng,lat)" for a point, GeoJSON for a PostGIS geometry. */
function geoJSON(value: unknown): unknown {
  if (typeof value === "string") {
    const m = /^\(([^,]+),([^)]+)\)$/.exec(value);
    if (m) return { $type: "geo", $lng: Number(m[1]), $lat: Number(m[2]) };
  }
  if (typeof value === "object" && value !== null) {
    const c = (value as { coordinates?: unknown }).coordinates;
    if (Array.isArray(c) && typeof c[0] === "number" && typeof c[1] === "number") {
      return { $type: "geo", $lng: c[0], $lat: c[1] };
    }
  }
  return value;
}
