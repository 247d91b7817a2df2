// The query step's short `where` and `sort` forms -> Skygear predicate and sort arrays (protocol §4.2).
// Raw predicate arrays pass through untouched. No I/O.
export const OPERATORS = ["eq", "neq", "gt", "gte", "lt", "lte", "like", "ilike", "in"] as const;
const OPS = new Set<string>(OPERATORS);

export type Predicate = unknown[];

const keypath = (k: string) => ({ $type: "keypath", $val: k });

function isMap(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

/** A typed Skygear value (`{$type: ...}`) is a value to compare with, never a set of operators. */
function isOperatorMap(v: unknown): v is Record<string, unknown> {
  return isMap(v) && !("$type" in v) && Object.keys(v).length > 0 && Object.keys(v).every((k) => OPS.has(k));
}

export function isRawPredicate(v: unknown): v is Predicate {
  return Array.isArray(v) && typeof v[0] === "string";
}

/** `{status: open, priority: {gte: 3}}` -> `["and", ["eq", kp, "open"], ["gte", kp, 3]]`. */
export function toPredicate(where: unknown): Predicate | undefined {
  if (where === undefined || where === null) return undefined;
  if (isRawPredicate(where)) return where;
  if (Array.isArray(where))
    return combine(
      "and",
      where.map((w) => toPredicate(w)),
    );
  if (!isMap(where)) throw new Error("where: expected a mapping or a predicate array");
  const parts: (Predicate | undefined)[] = [];
  for (const [key, value] of Object.entries(where)) {
    if (key === "or" || key === "and") {
      const items = Array.isArray(value)
        ? value
        : isMap(value)
          ? Object.entries(value).map(([k, v]) => ({ [k]: v }))
          : [];
      parts.push(
        combine(
          key,
          items.map((w) => toPredicate(w)),
        ),
      );
    } else if (key === "not") {
      const inner = toPredicate(value);
      if (inner) parts.push(["not", inner]);
    } else if (isOperatorMap(value)) {
      for (const [op, v] of Object.entries(value)) parts.push([op, keypath(key), v]);
    } else {
      parts.push(["eq", keypath(key), value]);
    }
  }
  return combine("and", parts);
}

function combine(op: "and" | "or", parts: (Predicate | undefined)[]): Predicate | undefined {
  const list = parts.filter((p): p is Predicate => p !== undefined);
  if (list.length === 0) return undefined;
  if (list.length === 1) return list[0];
  return [op, ...list];
}

/** `["-_created_at", "title"]` -> `[[kp(_created_at), "desc"], [kp(title), "asc"]]`; raw pairs pass through. */
export function toSort(sort: unknown): unknown[] | undefined {
  if (sort === undefined || sort === null) return undefined;
  const list = Array.isArray(sort) ? sort : [sort];
  return list.map((s) => {
    if (typeof s !== "string") return s;
    return s.startsWith("-") ? [keypath(s.slice(1)), "desc"] : [keypath(s.replace(/^\+/, "")), "asc"];
  });
}
