// Skygear field types and how they map to Postgres column types (protocol §7), both ways. No I/O.

/** The field type of a column as Skygear reads it back from the catalog. */
export type FieldType =
  | "string"
  | "number"
  | "integer"
  | "boolean"
  | "json"
  | "date"
  | "ref"
  | "seq"
  | "geo"
  | "unknown";

export interface ColumnInfo {
  type: FieldType;
  /** For `ref`: the record type (table) the foreign key points at. */
  refType?: string;
  /** For `unknown`: the Postgres type name, sent as `$underlying_type`. */
  underlying?: string;
}

/** A column a save needs: the type its value implies. */
export type ColumnSpec =
  | { type: "string" | "number" | "boolean" | "json" | "date" | "seq" | "geo" }
  | { type: "ref"; refType: string };

/** Maps a catalog row (format_type, default expression, FK target table) to a field type. */
export function columnFromPg(pgType: string, dflt: string | null, refTable: string | null): ColumnInfo {
  switch (pgType) {
    case "text":
    case "character varying":
    case "citext":
      return refTable && refTable !== "_asset" ? { type: "ref", refType: refTable } : { type: "string" };
    case "double precision":
    case "real":
    case "numeric":
      return { type: "number" };
    case "integer":
    case "bigint":
    case "smallint":
      return { type: dflt?.startsWith("nextval(") ? "seq" : "integer" };
    case "boolean":
      return { type: "boolean" };
    case "jsonb":
    case "json":
      return { type: "json" };
    case "timestamp without time zone":
    case "timestamp with time zone":
      return { type: "date" };
    case "point":
      return { type: "geo" };
    default:
      // v1's own tables hold locations as PostGIS geometry(Point).
      if (pgType.startsWith("geometry(Point")) return { type: "geo" };
      return { type: "unknown", underlying: pgType };
  }
}

/** The Postgres type of a new column (S: pq/types.go). */
export function sqlTypeOf(type: Exclude<ColumnSpec["type"], "ref">): string {
  switch (type) {
    case "string":
      return "text";
    case "number":
      return "double precision";
    case "boolean":
      return "boolean";
    case "json":
      return "jsonb";
    case "date":
      return "timestamp without time zone";
    case "seq":
      return "serial UNIQUE";
    case "geo":
      // Postgres's own point (lng, lat): v1 uses PostGIS geometry(Point), which a development database
      // (the embedded Postgres) may not have.
      return "point";
  }
}

/** Whether a value of type `spec` may be stored in an existing column. */
export function specFits(spec: ColumnSpec, have: ColumnInfo): boolean {
  if (spec.type === "ref") return have.type === "ref" && have.refType === spec.refType;
  if (spec.type === "number") return have.type === "number" || have.type === "integer";
  return spec.type === have.type;
}

export function describeSpec(spec: ColumnSpec): string {
  return spec.type === "ref" ? `ref to ${spec.refType}` : spec.type;
}

const GO_TYPE: Record<FieldType, [string, string]> = {
  string: ["TypeString", "text"],
  number: ["TypeNumber", "double precision"],
  integer: ["TypeInteger", "bigint"],
  boolean: ["TypeBoolean", "boolean"],
  json: ["TypeJSON", "jsonb"],
  date: ["TypeDateTime", "timestamp without time zone"],
  ref: ["TypeReference", "text"],
  seq: ["TypeSequence", "integer"],
  geo: ["TypeLocation", "geometry(Point)"],
  unknown: ["TypeUnknown", ""],
};

/**
 * How v1 prints a field type in its schema conflict message (Go's %v of skydb.FieldType): the stored
 * column carries its Postgres type, the requested one none.
 */
export function goFieldType(t: ColumnInfo | ColumnSpec, stored: boolean): string {
  const [name, pgType] = GO_TYPE[t.type];
  const ref = t.type === "ref" ? (t.refType ?? "") : "";
  const underlying = stored ? ((t as ColumnInfo).underlying ?? pgType) : "";
  return `{${name} ${ref} {0 <nil>} ${underlying}}`;
}

/** v1's IncompatibleSchema text for a field stored as `have` and saved as `want`. */
export function conflictText(have: ColumnInfo, want: ColumnSpec): string {
  return `conflicting schema ${goFieldType(have, true)} => ${goFieldType(want, false)}`;
}
