// record:query's request checked as v1's QueryParser and Predicate.Validate check it (S: handler/query.go
// queryFromRaw, skydb/query.go validate), before any table is looked at: the same errors, codes and texts,
// so an invalid query answers the same whether or not its record type has a table yet. The SQL builders
// (predicate.ts, query-options.ts) then only see queries v1 would accept. No I/O.
import { SkygearServerError } from "../errors.js";

const OPERATORS = new Set([
  "and",
  "or",
  "not",
  "eq",
  "gt",
  "lt",
  "gte",
  "lte",
  "neq",
  "like",
  "ilike",
  "in",
  "func",
]);
const BINARY = new Set(["eq", "gt", "lt", "gte", "lte", "neq", "like", "ilike", "in"]);
const COMPOUND = new Set(["and", "or", "not"]);

/** A parse failure: v1 reports it as 108 "failed to construct query: ...". */
class ParseError extends Error {}

function construct(message: string): SkygearServerError {
  return new SkygearServerError("InvalidArgument", `failed to construct query: ${message}`);
}

/** Go's `%T` of a decoded JSON value. */
function goType(v: unknown): string {
  if (v === null || v === undefined) return "<nil>";
  if (typeof v === "string") return "string";
  if (typeof v === "number") return "float64";
  if (typeof v === "boolean") return "bool";
  if (Array.isArray(v)) return "[]interface {}";
  return "map[string]interface {}";
}

/** Go's `%v` of a decoded JSON value (maps print their keys sorted, as fmt does). */
export function goValue(v: unknown): string {
  if (v === null || v === undefined) return "<nil>";
  if (typeof v === "number") return goFloat(v);
  if (typeof v === "string" || typeof v === "boolean") return String(v);
  if (Array.isArray(v)) return `[${v.map(goValue).join(" ")}]`;
  const o = v as Record<string, unknown>;
  return `map[${Object.keys(o)
    .sort()
    .map((k) => `${k}:${goValue(o[k])}`)
    .join(" ")}]`;
}

/** Go's %v of a float64: shortest form, exponent from 1e21 up and below 1e-4. */
function goFloat(n: number): string {
  const abs = Math.abs(n);
  if (n === 0 || (abs >= 1e-4 && abs < 1e21)) return String(n);
  const [m, e] = n.toExponential().split("e");
  const exp = Number(e);
  return `${m}e${exp < 0 ? "-" : "+"}${String(Math.abs(exp)).padStart(2, "0")}`;
}

type Expr = { kind: "keypath" } | { kind: "function"; name: string } | { kind: "literal"; value: unknown };

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function isKeypath(v: unknown): boolean {
  return isObject(v) && v.$type === "keypath" && typeof v.$val === "string";
}

function isLocation(v: unknown): boolean {
  return isObject(v) && typeof v.$lng === "number" && typeof v.$lat === "number";
}

/** v1 parseFunc: only a well-formed distance (or userRelation) function is a function; else a literal. */
function isFunction(v: unknown[]): boolean {
  if (v[0] !== "func") return false;
  const args = v.slice(2);
  if (v[1] === "distance") return args.length === 2 && isKeypath(args[0]) && isLocation(args[1]);
  if (v[1] === "userRelation") return args.length === 2 && isKeypath(args[0]) && isObject(args[1]);
  return false;
}

const LITERAL_TYPES = new Set([
  "keypath",
  "asset",
  "ref",
  "date",
  "geo",
  "geojson",
  "seq",
  "unknown",
  "relation",
  "record",
]);

/** v1 ParseLiteral: walks maps and arrays; an unknown or non-string `$type` fails the parse. */
function checkLiteral(v: unknown): void {
  if (Array.isArray(v)) {
    for (const x of v) checkLiteral(x);
    return;
  }
  if (!isObject(v)) return;
  if (!Object.hasOwn(v, "$type")) {
    for (const x of Object.values(v)) checkLiteral(x);
    return;
  }
  const kind = v.$type;
  if (typeof kind !== "string") throw new ParseError(`got "$type"'s type = ${goType(kind)}, want string`);
  if (kind === "blob") throw new ParseError(`unimplemented $type = ${kind}`);
  if (!LITERAL_TYPES.has(kind)) throw new ParseError(`unknown $type = ${kind}`);
}

function parseExpression(v: unknown): Expr {
  if (isKeypath(v)) return { kind: "keypath" };
  if (Array.isArray(v) && v.length > 0 && isFunction(v)) return { kind: "function", name: String(v[1]) };
  checkLiteral(v);
  return { kind: "literal", value: v };
}

type Predicate = { op: string; children: (Predicate | Expr)[] };

function parsePredicate(raw: unknown[]): Predicate {
  if (raw.length < 2) throw new ParseError(`got len(predicate) = ${raw.length}, want at least 2`);
  const op = raw[0];
  if (typeof op !== "string") throw new ParseError(`got predicate[0]'s type = ${goType(op)}, want string`);
  if (!OPERATORS.has(op)) throw new ParseError(`unrecognized operator = ${op}`);
  const children: (Predicate | Expr)[] = [];
  if (op === "func") {
    children.push(parseExpression(raw));
  } else if (COMPOUND.has(op)) {
    for (let i = 1; i < raw.length; i++) {
      const sub = raw[i];
      if (!Array.isArray(sub)) throw new ParseError(`got non-dict in subpredicate at ${i - 1}`);
      children.push(parsePredicate(sub));
    }
  } else {
    for (let i = 1; i < raw.length; i++) children.push(parseExpression(raw[i]));
  }
  if (BINARY.has(op) && children.length !== 2) {
    throw new ParseError(`Expected number of expressions be 2, got ${children.length}`);
  }
  return { op, children };
}

function isPredicate(c: Predicate | Expr): c is Predicate {
  return "op" in c;
}

/** v1 Predicate.validate: 120 for a malformed tree, 111 for comparisons it cannot express. */
function validatePredicate(p: Predicate): void {
  if (p.op === "func" && p.children.length !== 1) {
    throw new SkygearServerError(
      "RecordQueryInvalid",
      `functional predicate must have 1 operand, got ${p.children.length}`,
    );
  }
  if (COMPOUND.has(p.op)) {
    for (const c of p.children) if (isPredicate(c)) validatePredicate(c);
  }
  if (p.op === "func") {
    const e = p.children[0] as Expr;
    if (e.kind !== "function") {
      throw new SkygearServerError(
        "RecordQueryInvalid",
        "functional predicate must contain functional expression",
      );
    }
    // userRelation passes here (v1 then checks its relation name); the SQL builder answers for it.
    if (e.name !== "userRelation") {
      throw new SkygearServerError("NotSupported", "unsupported function for functional predicate");
    }
  }
  if (p.op === "eq") {
    for (const c of p.children as Expr[]) {
      if (c.kind !== "literal") continue;
      if (isObject(c.value) && !Object.hasOwn(c.value, "$type")) {
        throw new SkygearServerError(
          "NotSupported",
          `equal comparison of map "${goValue(c.value)}" is not supported`,
        );
      }
      if (Array.isArray(c.value)) {
        throw new SkygearServerError(
          "NotSupported",
          `equal comparison of array "${goValue(c.value)}" is not supported`,
        );
      }
    }
  }
}

function parseSort(raw: unknown): void {
  const entry = Array.isArray(raw) ? raw : [];
  if (entry.length !== 2) throw new ParseError(`got len(sort descriptor) = ${entry.length}, want 2`);
  if (parseExpression(entry[0]).kind === "literal") throw new ParseError("sort does not support literal");
  const order = typeof entry[1] === "string" ? entry[1] : "";
  if (order === "") throw new ParseError("empty sort order in sort descriptor");
  if (order !== "asc" && order !== "desc") throw new ParseError(`unknown sort order: ${order}`);
}

/** v1 mustDoSlice: present and not null, but not an array -> 108 naming the argument. */
function sliceOf(payload: Record<string, unknown>, key: string): unknown[] | undefined {
  const v = payload[key];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v)) {
    throw new SkygearServerError("InvalidArgument", `expecting "${key}" to be an array`, {
      info: { arguments: [key] },
    });
  }
  return v;
}

/** Throws v1's error for a query v1 would refuse before running it. */
export function checkQueryLikeV1(payload: Record<string, unknown>): void {
  const recordType = typeof payload.record_type === "string" ? payload.record_type : "";
  if (recordType === "") throw new SkygearServerError("InvalidArgument", "recordType cannot be empty");
  try {
    const rawPredicate = sliceOf(payload, "predicate");
    if (rawPredicate) validatePredicate(parsePredicate(rawPredicate));
    const rawSorts = sliceOf(payload, "sort");
    if (rawSorts) for (const s of rawSorts) parseSort(s);
    if (isObject(payload.include)) for (const v of Object.values(payload.include)) parseExpression(v);
    const keys = sliceOf(payload, "desired_keys");
    if (keys?.some((k) => typeof k !== "string")) {
      throw new SkygearServerError("InvalidArgument", "unexpected value in desired_keys");
    }
  } catch (err) {
    if (err instanceof ParseError) throw construct(err.message);
    throw err;
  }
}
