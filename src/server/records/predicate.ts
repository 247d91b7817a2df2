// The query predicate grammar (protocol §4.1, §4.2) -> a parameterised SQL condition over alias `t`, with
// LEFT JOINs for `ref.field` key paths. Structural problems answer 120, bad values 108. No I/O of its own.
import { ident } from "../../db/pool.js";
import { SkygearServerError } from "../errors.js";
import { queryDenied } from "./field-acl.js";
import type { Params } from "./sql.js";
import type { TableColumns } from "./table.js";
import type { ColumnInfo } from "./types.js";
import { decodeValue, isTypedObject, type Value, valueSQL } from "./values.js";

export interface PredicateContext {
  schema: string;
  recordType: string;
  columns: TableColumns;
  /** Columns of another record table (for joins), or null when it has no table. */
  columnsOf(table: string): Promise<TableColumns | null>;
  params: Params;
  /** ref column -> join alias; filled while building, rendered by joinsSQL. */
  joins: Map<string, { alias: string; table: string }>;
  /** Field access: true when the caller may not compare this field (answers 124). */
  hidden?: (recordType: string, field: string) => boolean;
  /**
   * Record access for a joined row: SQL that holds when the caller may read the row of `alias`, or null
   * for no check (the master key). A row the caller may not read joins as a missing reference.
   */
  readable?: (alias: string) => string | null;
}

export interface Expr {
  sql: string;
  info: ColumnInfo;
}

type Operand =
  | { kind: "expr"; expr: Expr }
  | { kind: "value"; value: Value }
  | { kind: "list"; items: unknown[] }
  | { kind: "map" };

const SYSTEM_COLUMNS: Record<string, ColumnInfo> = {
  _id: { type: "string" },
  _database_id: { type: "string" },
  _owner_id: { type: "string" },
  _created_at: { type: "date" },
  _created_by: { type: "string" },
  _updated_at: { type: "date" },
  _updated_by: { type: "string" },
};

const COMPARE: Record<string, string> = { gt: ">", gte: ">=", lt: "<", lte: "<=" };

export function queryInvalid(message: string): SkygearServerError {
  return new SkygearServerError("RecordQueryInvalid", message);
}

function column(ctx: PredicateContext, alias: string, table: string, cols: TableColumns, raw: string): Expr {
  const name = raw === "_owner" ? "_owner_id" : raw;
  const sys = SYSTEM_COLUMNS[name];
  if (sys) return { sql: `${alias}.${ident(name)}`, info: sys };
  if (name.startsWith("_"))
    throw queryInvalid(`key path "${raw}" names a reserved column that cannot be queried`);
  const info = cols.get(name);
  if (!info) {
    throw new SkygearServerError("RecordQueryInvalid", `unknown field "${name}" of record type "${table}"`, {
      info: { unknown_field: name, record_type: table },
    });
  }
  if (ctx.hidden?.(table, name)) throw queryDenied(table, name);
  return { sql: `${alias}.${ident(name)}`, info };
}

/** `field`, a reserved column, or `ref.field` (at most two components; the first must be a reference). */
export async function resolveKeypath(ctx: PredicateContext, path: string): Promise<Expr> {
  const parts = path.split(".");
  if (parts.length > 2 || parts.some((p) => p === "")) {
    throw queryInvalid(`key path "${path}" must be "field" or "reference.field"`);
  }
  if (parts.length === 1) return column(ctx, "t", ctx.recordType, ctx.columns, parts[0]!);
  const [ref, field] = parts as [string, string];
  const info = ctx.columns.get(ref);
  if (info?.type !== "ref" || !info.refType) {
    throw queryInvalid(
      `key path "${path}": "${ref}" is not a reference field of record type "${ctx.recordType}"`,
    );
  }
  const target = await ctx.columnsOf(info.refType);
  if (!target) throw queryInvalid(`key path "${path}": record type "${info.refType}" has no records`);
  let join = ctx.joins.get(ref);
  if (!join) {
    join = { alias: `j${ctx.joins.size}`, table: info.refType };
    ctx.joins.set(ref, join);
  }
  return column(ctx, join.alias, info.refType, target, field);
}

export function joinsSQL(ctx: PredicateContext): string {
  return [...ctx.joins]
    .map(([ref, j]) => {
      const readable = ctx.readable?.(j.alias);
      const on = `${j.alias}._id = t.${ident(ref)}${readable ? ` AND ${readable}` : ""}`;
      return ` LEFT JOIN ${ident(ctx.schema)}.${ident(j.table)} ${j.alias} ON ${on}`;
    })
    .join("");
}

async function operand(ctx: PredicateContext, raw: unknown): Promise<Operand> {
  if (Array.isArray(raw)) {
    if (raw[0] === "func") {
      if (raw[1] === "distance") throw distanceUnavailable();
      throw queryInvalid(`unknown function ${JSON.stringify(raw[1])}`);
    }
    return { kind: "list", items: raw };
  }
  if (isTypedObject(raw)) {
    const value = decodeValue(raw, "predicate");
    if (value.kind === "keypath") return { kind: "expr", expr: await resolveKeypath(ctx, value.path) };
    if (value.kind === "seq" || value.kind === "unknown")
      throw queryInvalid(`a ${value.kind} value cannot be compared`);
    return { kind: "value", value };
  }
  if (typeof raw === "object" && raw !== null) return { kind: "map" };
  return { kind: "value", value: decodeValue(raw, "predicate") };
}

function operandSQL(ctx: PredicateContext, op: Operand): string {
  if (op.kind === "expr") return op.expr.sql;
  if (op.kind === "value") return valueSQL(op.value, ctx.params);
  throw new SkygearServerError("NotSupported", "an array or object literal cannot be compared");
}

function binaryArgs(op: string, args: unknown[]): [unknown, unknown] {
  if (args.length !== 2) throw queryInvalid(`predicate "${op}" takes two operands, got ${args.length}`);
  return [args[0], args[1]];
}

const isNull = (o: Operand) => o.kind === "value" && o.value.kind === "null";

async function equality(ctx: PredicateContext, op: "eq" | "neq", args: unknown[]): Promise<string> {
  const [a, b] = binaryArgs(op, args);
  let lhs = await operand(ctx, a);
  let rhs = await operand(ctx, b);
  if (isNull(lhs)) [lhs, rhs] = [rhs, lhs];
  if (lhs.kind !== "expr" && rhs.kind !== "expr")
    throw queryInvalid(`predicate "${op}" needs a key path operand`);
  if (isNull(rhs)) return `${operandSQL(ctx, lhs)} IS ${op === "eq" ? "" : "NOT "}NULL`;
  return `${operandSQL(ctx, lhs)} ${op === "eq" ? "=" : "<>"} ${operandSQL(ctx, rhs)}`;
}

/** `[func, distance, keypath, geo]` -> its parts, or undefined. */
function distanceOf(raw: unknown): { path: string; lng: number; lat: number } | undefined {
  if (!Array.isArray(raw) || raw[0] !== "func" || raw[1] !== "distance" || raw.length !== 4) return undefined;
  const kp = raw[2] as { $type?: unknown; $val?: unknown } | null;
  const geo = raw[3] as { $lng?: unknown; $lat?: unknown } | null;
  if (kp?.$type !== "keypath" || typeof kp.$val !== "string") return undefined;
  if (typeof geo?.$lng !== "number" || typeof geo.$lat !== "number") return undefined;
  return { path: kp.$val, lng: geo.$lng, lat: geo.$lat };
}

/**
 * v1's one working use of distance: `[lt, distance(field, point), meters]` (or `[gt, meters, distance]`),
 * "within that many meters" (S: pq/builder/factory.go, ST_DWithin over geography). Here on a sphere of the
 * mean Earth radius (haversine), which differs from PostGIS's spheroid by at most about 0.5%.
 */
async function withinDistance(
  ctx: PredicateContext,
  op: string,
  a: unknown,
  b: unknown,
): Promise<string | undefined> {
  const dist = op === "lt" ? distanceOf(a) : op === "gt" ? distanceOf(b) : undefined;
  const limit = op === "lt" ? b : a;
  if (!dist || typeof limit !== "number") return undefined;
  const col = (await resolveKeypath(ctx, dist.path)).sql;
  const p = ctx.params;
  const [lng, lat] = [p.add(dist.lng), p.add(dist.lat)];
  // point: x = lng, y = lat (degrees).
  return `(2 * 6371008.8 * asin(sqrt(power(sin(radians((${col})[1] - ${lat}::float8) / 2), 2) + cos(radians(${lat}::float8)) * cos(radians((${col})[1])) * power(sin(radians((${col})[0] - ${lng}::float8) / 2), 2))) <= ${p.add(limit)}::float8)`;
}

async function comparison(ctx: PredicateContext, op: string, args: unknown[]): Promise<string> {
  const [a, b] = binaryArgs(op, args);
  const within = await withinDistance(ctx, op, a, b);
  if (within) return within;
  const lhs = await operand(ctx, a);
  const rhs = await operand(ctx, b);
  if (lhs.kind !== "expr" && rhs.kind !== "expr")
    throw queryInvalid(`predicate "${op}" needs a key path operand`);
  if (isNull(lhs) || isNull(rhs)) throw queryInvalid(`predicate "${op}" cannot compare with null`);
  return `${operandSQL(ctx, lhs)} ${COMPARE[op]} ${operandSQL(ctx, rhs)}`;
}

async function like(ctx: PredicateContext, op: "like" | "ilike", args: unknown[]): Promise<string> {
  const [a, b] = binaryArgs(op, args);
  const lhs = await operand(ctx, a);
  if (lhs.kind !== "expr") throw queryInvalid(`predicate "${op}" needs a key path on the left`);
  if (typeof b !== "string") throw queryInvalid(`predicate "${op}" needs a string pattern on the right`);
  return `${lhs.expr.sql} ${op === "like" ? "LIKE" : "ILIKE"} ${ctx.params.add(b)}`;
}

async function inList(ctx: PredicateContext, args: unknown[]): Promise<string> {
  const [a, b] = binaryArgs("in", args);
  const lhs = await operand(ctx, a);
  const rhs = await operand(ctx, b);
  if (lhs.kind === "expr" && rhs.kind === "list") {
    if (rhs.items.length === 0) return "FALSE";
    const items = rhs.items.map((item) => {
      const value = decodeValue(item, "predicate");
      if (
        value.kind === "json" ||
        value.kind === "keypath" ||
        value.kind === "seq" ||
        value.kind === "unknown"
      ) {
        throw queryInvalid(`"in" list items must be plain values, got ${JSON.stringify(item)}`);
      }
      return valueSQL(value, ctx.params);
    });
    return `${lhs.expr.sql} IN (${items.join(", ")})`;
  }
  if (lhs.kind === "value" && rhs.kind === "expr") {
    if (rhs.expr.info.type !== "json")
      throw queryInvalid(`"in" with a key path on the right needs a json field`);
    const v = lhs.value;
    if (v.kind === "string") return `jsonb_exists(${rhs.expr.sql}, ${ctx.params.add(v.value)}::text)`;
    if (v.kind === "number" || v.kind === "boolean") {
      return `${rhs.expr.sql} @> ${ctx.params.add(JSON.stringify([v.value]))}::jsonb`;
    }
    throw queryInvalid(`"in" on a json field needs a string, number or boolean to look for`);
  }
  throw queryInvalid(`predicate "in" takes [in, keypath, [values]] or [in, value, keypath]`);
}

/** One predicate array -> SQL. */
export async function predicateSQL(ctx: PredicateContext, raw: unknown): Promise<string> {
  if (!Array.isArray(raw) || typeof raw[0] !== "string") {
    throw queryInvalid(`a predicate must be an array [operator, ...operands], got ${JSON.stringify(raw)}`);
  }
  const [op, ...args] = raw as [string, ...unknown[]];
  switch (op) {
    case "and":
    case "or": {
      if (args.length === 0) throw queryInvalid(`predicate "${op}" needs at least one sub-predicate`);
      const parts: string[] = [];
      for (const sub of args) parts.push(await predicateSQL(ctx, sub));
      return `(${parts.join(op === "and" ? " AND " : " OR ")})`;
    }
    case "not":
      if (args.length !== 1) throw queryInvalid(`predicate "not" takes exactly one sub-predicate`);
      return `NOT (${await predicateSQL(ctx, args[0])})`;
    case "eq":
    case "neq":
      return equality(ctx, op, args);
    case "gt":
    case "gte":
    case "lt":
    case "lte":
      return comparison(ctx, op, args);
    case "like":
    case "ilike":
      return like(ctx, op, args);
    case "in":
      return inList(ctx, args);
    case "func":
      if (args[0] === "userRelation")
        throw new SkygearServerError("NotSupported", "userRelation is not supported");
      throw queryInvalid(`unknown predicate function ${JSON.stringify(args[0])}`);
    default:
      throw queryInvalid(`unknown predicate operator "${op}"`);
  }
}

/**
 * v1.7.3 computes a distance with ST_Distance_Sphere, which PostGIS 3 no longer has: every use of distance
 * but "within" (see withinDistance) fails there with this 500. Answered the same, from its text.
 */
export function distanceUnavailable(): SkygearServerError {
  return new SkygearServerError(
    "UnexpectedError",
    "pq: function st_distance_sphere(geometry, geometry) does not exist",
  );
}
