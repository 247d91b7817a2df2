// Typed values of the wire format (protocol §3.2) decoded for storage and for query literals. No I/O.
import { SkygearServerError } from "../errors.js";
import { parseRecordId } from "./ids.js";
import type { Params } from "./sql.js";
import type { ColumnSpec } from "./types.js";

export type Value =
  | { kind: "null" }
  | { kind: "string"; value: string }
  | { kind: "number"; value: number }
  | { kind: "boolean"; value: boolean }
  | { kind: "json"; value: unknown }
  | { kind: "date"; iso: string }
  | { kind: "ref"; refType: string; key: string }
  | { kind: "geo"; lng: number; lat: number }
  | { kind: "seq" }
  | { kind: "unknown" }
  | { kind: "keypath"; path: string };

const KNOWN_TYPES = new Set([
  "date",
  "ref",
  "geo",
  "geojson",
  "asset",
  "seq",
  "unknown",
  "relation",
  "keypath",
  "record",
  "blob",
]);
const UNSUPPORTED = new Set(["geojson", "asset", "relation", "record", "blob"]);
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$/;

function invalid(message: string, where: string): SkygearServerError {
  return new SkygearServerError("InvalidArgument", message, { info: { arguments: [where] } });
}

export function isTypedObject(raw: unknown): raw is Record<string, unknown> & { $type: unknown } {
  return typeof raw === "object" && raw !== null && !Array.isArray(raw) && "$type" in raw;
}

/** Decodes one JSON value; `where` names the field in error messages. Unknown `$type` -> 108. */
export function decodeValue(raw: unknown, where: string): Value {
  if (raw === null || raw === undefined) return { kind: "null" };
  if (typeof raw === "string") return { kind: "string", value: raw };
  if (typeof raw === "number") return { kind: "number", value: raw };
  if (typeof raw === "boolean") return { kind: "boolean", value: raw };
  if (isTypedObject(raw)) return decodeTyped(raw, where);
  checkNested(raw, where);
  return { kind: "json", value: raw };
}

function decodeTyped(raw: Record<string, unknown>, where: string): Value {
  const t = raw.$type;
  switch (t) {
    case "date": {
      const d = raw.$date;
      if (typeof d !== "string" || !RFC3339.test(d) || Number.isNaN(Date.parse(d))) {
        throw invalid(`${where}: $date must be an RFC 3339 date-time, got ${JSON.stringify(d)}`, where);
      }
      return { kind: "date", iso: d };
    }
    case "ref": {
      const id = parseRecordId(raw.$id);
      if (!id) throw invalid(`${where}: ref $id must be "type/key", got ${JSON.stringify(raw.$id)}`, where);
      return { kind: "ref", refType: id.type, key: id.key };
    }
    case "geo":
      return { kind: "geo", lng: geoNumber(raw, "$lng", where), lat: geoNumber(raw, "$lat", where) };
    case "seq":
      return { kind: "seq" };
    case "unknown":
      return { kind: "unknown" };
    case "keypath":
      if (typeof raw.$val !== "string" || raw.$val === "")
        throw invalid(`${where}: keypath $val must be a string`, where);
      return { kind: "keypath", path: raw.$val };
    default:
      if (typeof t === "string" && UNSUPPORTED.has(t)) {
        throw new SkygearServerError(
          "NotSupported",
          `${where}: values of $type "${t}" are not supported by this server`,
        );
      }
      throw invalid(`${where}: unknown $type ${JSON.stringify(t)}`, where);
  }
}

/** v1 MapLocation: `$lng` and `$lat` must be numbers (S: skyconv/map.go), with its texts. */
function geoNumber(raw: Record<string, unknown>, key: "$lng" | "$lat", where: string): number {
  const v = raw[key];
  if (v === undefined) throw invalid(`missing compulsory field ${key}`, where);
  if (typeof v !== "number") {
    const t =
      v === null
        ? "<nil>"
        : typeof v === "string"
          ? "string"
          : typeof v === "boolean"
            ? "bool"
            : Array.isArray(v)
              ? "[]interface {}"
              : "map[string]interface {}";
    throw invalid(`got type(${key}) = ${t}, want number`, where);
  }
  return v;
}

/** Objects and arrays are stored as json; a nested typed value must still name a known `$type`. */
function checkNested(raw: unknown, where: string): void {
  if (Array.isArray(raw)) {
    for (const item of raw) checkNested(item, where);
    return;
  }
  if (typeof raw !== "object" || raw === null) return;
  const obj = raw as Record<string, unknown>;
  if ("$type" in obj && (typeof obj.$type !== "string" || !KNOWN_TYPES.has(obj.$type))) {
    throw invalid(`${where}: unknown $type ${JSON.stringify(obj.$type)}`, where);
  }
  for (const v of Object.values(obj)) checkNested(v, where);
}

/** The column a stored value needs; null for values that need none (null, unknown, keypath). */
export function columnSpecOf(v: Value): ColumnSpec | null {
  switch (v.kind) {
    case "string":
    case "number":
    case "boolean":
    case "json":
    case "date":
    case "seq":
    case "geo":
      return { type: v.kind };
    case "ref":
      return { type: "ref", refType: v.refType };
    default:
      return null;
  }
}

/** SQL for a value bound as a parameter (dates are read as UTC into `timestamp without time zone`). */
export function valueSQL(v: Value, params: Params): string {
  switch (v.kind) {
    case "null":
      return "NULL";
    case "string":
    case "number":
    case "boolean":
      return params.add(v.value);
    case "json":
      return `${params.add(JSON.stringify(v.value))}::jsonb`;
    case "date":
      return `(${params.add(v.iso)}::timestamptz AT TIME ZONE 'UTC')`;
    case "ref":
      return params.add(v.key);
    case "geo":
      return `point(${params.add(v.lng)}::float8, ${params.add(v.lat)}::float8)`;
    default:
      throw new Error(`a ${v.kind} value is not stored`);
  }
}
