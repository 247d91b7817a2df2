// Validation against the typebox schema: a walk of its JSON Schema that gives messages an author can act on
// (nearest key, expected type, quoting hints). No I/O. The walk knows every keyword the schema uses, and
// accepts exactly what typebox's compiled check accepts (test/engine/definition/check-schema.test.ts
// compares them on mutated workflows): the compiled check is not loaded, which keeps 308 modules and about
// 7 MB of resident memory out of a daemon (its schema is checked when a workflow file loads).
import type { Static, TSchema } from "typebox";
import { nearest } from "./nearest.js";
import { Step, WorkflowFile } from "./schema.js";

/** A schema problem before it gets a file position: the YAML path and whether it is about the key. */
export interface RawProblem {
  path: string;
  message: string;
  atKey?: boolean;
}

/** The part of JSON Schema the workflow schemas use (typebox builds them). */
export interface Schema {
  type?: string;
  properties?: Record<string, Schema>;
  required?: string[];
  additionalProperties?: boolean;
  patternProperties?: Record<string, Schema>;
  items?: Schema;
  minItems?: number;
  anyOf?: Schema[];
  enum?: unknown[];
  const?: unknown;
  pattern?: string;
  minimum?: number;
  minLength?: number;
  /** How "expected ..." messages name this schema. */
  "x-expected"?: string;
}

const regexps = new Map<string, RegExp>();

/** Every schema problem of a parsed workflow file; [] when it conforms. */
export function checkSchema(value: unknown, join: (path: string, key: string) => string): RawProblem[] {
  const out: RawProblem[] = [];
  walk(WorkflowFile as unknown as Schema, value, "", out, join);
  // The schema leaves the steps inside foreach and parallel open (schema.ts): each is checked here.
  for (const [path, step] of innerSteps(value)) walk(Step as unknown as Schema, step, path, out, join);
  return out;
}

/**
 * A value checked against one schema (e.g. a step's resolved input against RUN_KINDS): the value, typed, or
 * its problems named from `path`. The same walk (check-schema.test.ts compares it with typebox's compiled
 * check on the run forms too); a step's input is a few keys, a few microseconds.
 */
export function checkValue<S extends TSchema>(
  schema: S,
  value: unknown,
  path: string,
): { ok: true; value: Static<S> } | { ok: false; problems: RawProblem[] } {
  // A conforming value (every run's) is told by a walk that builds no path and no message.
  if (fits(schema as unknown as Schema, value)) return { ok: true, value: value as Static<S> };
  const problems: RawProblem[] = [];
  walk(schema as unknown as Schema, value, path, problems, (p, k) => `${p}.${k}`);
  if (problems.length === 0) return { ok: true, value: value as Static<S> };
  return { ok: false, problems };
}

const isMap = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === "object" && !Array.isArray(v);

/** Every step inside a foreach or a parallel branch, at any depth, with its YAML path. */
export function innerSteps(file: unknown): [string, unknown][] {
  const out: [string, unknown][] = [];
  const visitList = (list: unknown, at: string, inner: boolean): void => {
    if (!Array.isArray(list)) return;
    list.forEach((s, i) => {
      const path = `${at}[${i}]`;
      if (inner) out.push([path, s]);
      if (!isMap(s)) return;
      if ("foreach" in s) visitList(s.steps, `${path}.steps`, true);
      if (isMap(s.parallel))
        for (const [b, l] of Object.entries(s.parallel)) visitList(l, `${path}.parallel.${b}`, true);
    });
  };
  if (!isMap(file)) return out;
  visitList(file.steps, "steps", false);
  visitList(file.on_failure, "on_failure", false);
  return out;
}

function typeOf(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "array";
  // NaN and the infinities (YAML's .nan and .inf; an expression's 0.0 / 0.0) are no number to typebox either.
  if (typeof v === "number")
    return Number.isInteger(v) ? "integer" : Number.isFinite(v) ? "number" : "nonfinite";
  return typeof v;
}

const NOUN: Record<string, string> = {
  object: "a mapping",
  array: "a list",
  string: "a string",
  integer: "an integer",
  number: "a number",
  boolean: "true or false",
  null: "nothing (null)",
  nonfinite: "a number that is not finite",
};

/** How a schema reads in "expected ..." messages. */
export function describe(s: Schema): string {
  if (s["x-expected"]) return s["x-expected"];
  if (s.anyOf) return [...new Set(s.anyOf.map(describe))].join(" or ");
  if (s.enum) return `one of ${s.enum.join(", ")}`;
  if (s.pattern?.startsWith("^\\s*\\$\\{\\{")) return "an expression ${{ }}";
  if (s.pattern) return `text matching ${s.pattern}`;
  if (
    s.type === "object" &&
    s.properties &&
    s.required?.length === 1 &&
    Object.keys(s.properties).length === 1
  ) {
    return `a mapping with "${s.required[0]}"`;
  }
  return NOUN[s.type ?? ""] ?? "a value";
}

function matchesType(s: Schema, v: unknown): boolean {
  if (s.anyOf) return s.anyOf.some((b) => matchesType(b, v));
  if (!s.type) return true;
  const t = typeOf(v);
  return s.type === t || (s.type === "number" && t === "integer");
}

/** Every problem of `v` against `s` into `out`, each at its path from `path`. */
export function walk(s: Schema, v: unknown, path: string, out: RawProblem[], join: Join): void {
  check(s, v, path, out, join);
}

export type Join = (path: string, key: string) => string;

const noJoin: Join = (path) => path;

/**
 * Whether `walk` would find no problem in `v`: the same rules, answered without the paths, messages and
 * entry arrays the walk builds (a step's input is checked before its statement goes).
 * check-schema-fits.test.ts holds the two to the same answer on generated schemas and values.
 */
export function fits(s: Schema, v: unknown): boolean {
  return check(s, v, "", undefined, noJoin);
}

/**
 * The rules, once for both: with `out`, every problem goes there and the answer is whether there was none;
 * without it (fits), the first problem answers false and no path or message is built (`out?.push(...)`
 * evaluates nothing when `out` is undefined).
 */
function check(s: Schema, v: unknown, path: string, out: RawProblem[] | undefined, join: Join): boolean {
  if (s.anyOf) {
    if (out) return walkUnion(s, v, path, out, join);
    for (const b of s.anyOf) if (check(b, v, path, undefined, join)) return true;
    return false;
  }
  if (s.enum) {
    if (s.enum.includes(v)) return true;
    out?.push({ path, message: `expected one of ${s.enum.join(", ")}, got ${show(v)}` });
    return false;
  }
  if (!matchesType(s, v)) {
    out?.push({ path, message: `expected ${describe(s)}, got ${NOUN[typeOf(v)]}` });
    return false;
  }
  if (s.type === "object") return checkObject(s, v as Record<string, unknown>, path, out, join);
  if (s.type === "array") return checkArray(s, v as unknown[], path, out, join);
  if (s.type === "string") return checkString(s, v as string, path, out);
  if (s.minimum !== undefined && typeof v === "number" && v < s.minimum) {
    out?.push({ path, message: `must be at least ${s.minimum}, got ${v}` });
    return false;
  }
  return true;
}

function checkObject(
  s: Schema,
  v: Record<string, unknown>,
  path: string,
  out: RawProblem[] | undefined,
  join: Join,
): boolean {
  const props = s.properties ?? {};
  let ok = true;
  for (const key of s.required ?? []) {
    if (Object.hasOwn(v, key)) continue;
    if (!out) return false;
    out.push({ path, message: `missing required key "${key}"` });
    ok = false;
  }
  for (const key of Object.keys(v)) {
    const sub = (Object.hasOwn(props, key) ? props[key] : undefined) ?? patternSchema(s, key);
    if (sub) ok = check(sub, v[key], out ? join(path, key) : path, out, join) && ok;
    else if (s.additionalProperties === false) {
      if (!out) return false;
      const near = nearest(key, Object.keys(props));
      const hint = near ? ` (did you mean "${near}"?)` : `; valid keys: ${Object.keys(props).join(", ")}`;
      out.push({ path: join(path, key), atKey: true, message: `unknown key "${key}"${hint}` });
      ok = false;
    }
    if (!ok && !out) return false;
  }
  return ok;
}

function patternSchema(s: Schema, key: string): Schema | undefined {
  for (const [pattern, sub] of Object.entries(s.patternProperties ?? {}))
    if (regexp(pattern).test(key)) return sub;
  return undefined;
}

function regexp(pattern: string): RegExp {
  let re = regexps.get(pattern);
  if (!re) {
    re = new RegExp(pattern);
    regexps.set(pattern, re);
  }
  return re;
}

function checkArray(
  s: Schema,
  v: unknown[],
  path: string,
  out: RawProblem[] | undefined,
  join: Join,
): boolean {
  let ok = true;
  if (s.minItems !== undefined && v.length < s.minItems) {
    if (!out) return false;
    out.push({ path, message: `needs at least ${s.minItems} item${s.minItems === 1 ? "" : "s"}` });
    ok = false;
  }
  if (!s.items) return ok;
  for (let i = 0; i < v.length; i++) {
    ok = check(s.items, v[i], out ? `${path}[${i}]` : path, out, join) && ok;
    if (!ok && !out) return false;
  }
  return ok;
}

function checkString(s: Schema, v: string, path: string, out: RawProblem[] | undefined): boolean {
  let ok = true;
  if (s.minLength !== undefined && v.length < s.minLength) {
    if (!out) return false;
    out.push({ path, message: "must not be empty" });
    ok = false;
  }
  if (!s.pattern || regexp(s.pattern).test(v)) return ok;
  out?.push({ path, message: `expected ${describe(s)}, got ${show(v)}` });
  return false;
}

/** A union: the branch that fits, else the problems of the branch of the right type, else "expected A or B". */
function walkUnion(s: Schema, v: unknown, path: string, out: RawProblem[], join: Join): boolean {
  const tries = s.anyOf!.map((b) => {
    const probs: RawProblem[] = [];
    check(b, v, path, probs, join);
    return { b, probs };
  });
  if (tries.some((t) => t.probs.length === 0)) return true;
  const typed = tries.filter((t) => matchesType(t.b, v) && !t.b.enum);
  const keyed = typed.filter((t) =>
    t.b.required?.every((k) => typeof v === "object" && v !== null && k in v),
  );
  const pick = keyed.length === 1 ? keyed : typed.length === 1 ? typed : [];
  const b = pick[0]?.b;
  if (b && !(typeof v === "string" && b.pattern)) {
    out.push(...pick[0]!.probs);
    return false;
  }
  const kinds = singleKeyBranches(s);
  const keys = v && typeof v === "object" && !Array.isArray(v) ? Object.keys(v) : [];
  if (kinds && keys.length > 0) {
    const unknown = keys.filter((k) => !kinds.includes(k));
    const near = unknown.length === 1 ? nearest(unknown[0]!, kinds) : undefined;
    const got = keys.map((k) => `"${k}"`).join(", ");
    out.push({
      path,
      message: `expected one of ${kinds.join(", ")}, got ${got}${near ? ` (did you mean "${near}"?)` : ""}`,
    });
    return false;
  }
  out.push({ path, message: `expected ${describe(s)}, got ${describeValue(v)}` });
  return false;
}

/** The keys of a union of one-key mappings (the trigger kinds), else undefined. */
function singleKeyBranches(s: Schema): string[] | undefined {
  const keys: string[] = [];
  for (const b of s.anyOf ?? []) {
    const inner = b.anyOf ? singleKeyBranches(b) : b.required?.length === 1 ? [b.required[0]!] : undefined;
    if (b.type === "array") continue;
    if (!inner) return undefined;
    keys.push(...inner);
  }
  return keys.length > 0 ? keys : undefined;
}

function describeValue(v: unknown): string {
  if (typeof v === "string") return show(v);
  if (v && typeof v === "object" && !Array.isArray(v)) {
    const keys = Object.keys(v);
    return keys.length ? `a mapping with ${keys.map((k) => `"${k}"`).join(", ")}` : "an empty mapping";
  }
  return NOUN[typeOf(v)] ?? String(v);
}

function show(v: unknown): string {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}
