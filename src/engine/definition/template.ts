// Values with `${{ }}` inside: compiled once at load, resolved per step try. A scalar that is exactly one
// expression keeps the value's JSON type; inside a longer string it is interpolated as text. No I/O.
import { DefinitionError, type Problem } from "../../errors.js";
import { withResolution } from "./cel.js";
import { type CompiledExpr, type SourceLoc, tryCompileExpression } from "./expr.js";
import type { Template as ContractTemplate, ExprContext } from "./types.js";

/** Where the nth `${{` of the string at `path` starts in the file. */
export type Locate = (path: string, nth: number) => SourceLoc;

type Node =
  | { t: "lit"; v: unknown }
  | { t: "expr"; e: CompiledExpr }
  | { t: "text"; parts: (string | CompiledExpr)[] }
  | { t: "list"; items: Node[] }
  | { t: "map"; entries: [string, Node][] };

/** A compiled value; opaque to callers, resolved with resolveTemplate. */
export interface Template {
  readonly [TEMPLATE]: true;
  readonly node: Node;
}
const TEMPLATE = Symbol("skyflow.template");

export interface Segment {
  /** CEL text, trimmed. */
  source: string;
  /** Index of `${{` in the string. */
  start: number;
  /** Index of the CEL text's first character in the string. */
  sourceStart: number;
}

/** Splits a string into text and `${{ }}` segments; an unterminated `${{` is reported at its index. */
export function scanExpressions(s: string): { parts: (string | Segment)[]; unterminated?: number } {
  const parts: (string | Segment)[] = [];
  let i = 0;
  for (;;) {
    const start = s.indexOf("${{", i);
    if (start < 0) break;
    if (start > i) parts.push(s.slice(i, start));
    const end = findClose(s, start + 3);
    if (end < 0) return { parts, unterminated: start };
    const raw = s.slice(start + 3, end);
    const lead = raw.length - raw.trimStart().length;
    parts.push({ source: raw.trim(), start, sourceStart: start + 3 + lead });
    i = end + 2;
  }
  if (i < s.length) parts.push(s.slice(i));
  return { parts };
}

/** Index of the `}}` closing an expression body that starts at `from`, skipping braces and quoted text. */
function findClose(s: string, from: number): number {
  let depth = 0;
  for (let k = from; k < s.length; k++) {
    const c = s[k];
    if (c === '"' || c === "'") {
      k = skipQuoted(s, k);
      continue;
    }
    if (c === "{") depth++;
    else if (c === "}") {
      if (depth === 0 && s[k + 1] === "}") return k;
      if (depth > 0) depth--;
    }
  }
  return -1;
}

function skipQuoted(s: string, k: number): number {
  const q = s[k];
  for (let j = k + 1; j < s.length; j++) {
    if (s[j] === "\\") j++;
    else if (s[j] === q) return j;
  }
  return s.length;
}

export interface CompiledTemplate {
  template: Template;
  problems: Problem[];
  exprs: CompiledExpr[];
}

/** Compiles every `${{ }}` in a plain JS value (from YAML); keys are not templated. */
export function tryCompileTemplate(value: unknown, locate: Locate, path = ""): CompiledTemplate {
  const problems: Problem[] = [];
  const exprs: CompiledExpr[] = [];
  const node = compileNode(value, path, locate, problems, exprs);
  return { template: { [TEMPLATE]: true, node }, problems, exprs };
}

/** As tryCompileTemplate, throwing a DefinitionError with every problem. */
export function compileTemplate(value: unknown, locate: Locate, path = ""): Template {
  const r = tryCompileTemplate(value, locate, path);
  if (r.problems.length > 0) throw new DefinitionError(r.problems);
  return r.template;
}

function compileNode(
  v: unknown,
  path: string,
  locate: Locate,
  problems: Problem[],
  out: CompiledExpr[],
): Node {
  if (typeof v === "string") return compileString(v, path, locate, problems, out);
  if (Array.isArray(v)) {
    const items = v.map((x, i) => compileNode(x, `${path}[${i}]`, locate, problems, out));
    return items.every((n) => n.t === "lit") ? { t: "lit", v } : { t: "list", items };
  }
  if (v !== null && typeof v === "object") {
    const entries: [string, Node][] = Object.entries(v).map(([k, x]) => [
      k,
      compileNode(x, joinPath(path, k), locate, problems, out),
    ]);
    return entries.every(([, n]) => n.t === "lit") ? { t: "lit", v } : { t: "map", entries };
  }
  return { t: "lit", v };
}

/** `a.b`, or `a["$id"]` when the key is not a plain name. */
export function joinPath(path: string, key: string): string {
  if (/^[A-Za-z_][A-Za-z0-9_-]*$/.test(key)) return path ? `${path}.${key}` : key;
  return `${path}[${JSON.stringify(key)}]`;
}

function compileString(
  s: string,
  path: string,
  locate: Locate,
  problems: Problem[],
  out: CompiledExpr[],
): Node {
  if (!s.includes("${{")) return { t: "lit", v: s };
  const { parts, unterminated } = scanExpressions(s);
  if (unterminated !== undefined) {
    const nth = parts.filter((p) => typeof p !== "string").length;
    const loc = locate(path, nth);
    problems.push({ ...loc, path, message: 'unterminated expression: "${{" without a closing "}}"' });
    return { t: "lit", v: s };
  }
  const compiled: (string | CompiledExpr)[] = [];
  let nth = 0;
  for (const p of parts) {
    if (typeof p === "string") {
      compiled.push(p);
      continue;
    }
    const at = locate(path, nth++);
    const loc = { ...at, column: at.column + (p.sourceStart - p.start), path };
    const r = tryCompileExpression(p.source, loc);
    problems.push(...r.problems);
    if (!r.expr) return { t: "lit", v: s };
    out.push(r.expr);
    compiled.push(r.expr);
  }
  const only = compiled.filter((p) => typeof p !== "string" || p.trim() !== "");
  if (only.length === 1 && typeof only[0] !== "string") return { t: "expr", e: only[0]! };
  return { t: "text", parts: compiled };
}

/**
 * Plain JSON for one step try. uuid() calls are numbered across the whole template. Takes the contract's
 * `Template` (typed unknown in types.ts); a value that was never compiled is returned as a copy.
 */
export function resolveTemplate(template: ContractTemplate, ctx: ExprContext): unknown {
  if (!isTemplate(template)) return resolveNode({ t: "lit", v: template }, ctx);
  return withResolution(ctx, () => resolveNode(template.node, ctx));
}

function isTemplate(v: unknown): v is Template {
  return v !== null && typeof v === "object" && TEMPLATE in v;
}

function resolveNode(n: Node, ctx: ExprContext): unknown {
  switch (n.t) {
    case "lit":
      return n.v !== null && typeof n.v === "object" ? structuredClone(n.v) : n.v;
    case "expr":
      return n.e.evaluate(ctx);
    case "text":
      return n.parts.map((p) => (typeof p === "string" ? p : asText(p.evaluate(ctx)))).join("");
    case "list":
      return n.items.map((x) => resolveNode(x, ctx));
    case "map": {
      const out: Record<string, unknown> = {};
      for (const [k, x] of n.entries) out[k] = resolveNode(x, ctx);
      return out;
    }
  }
}

/** How a value reads inside a longer string: text as is, null as nothing, the rest as JSON. */
export function asText(v: unknown): string {
  if (typeof v === "string") return v;
  if (v === null || v === undefined) return "";
  return JSON.stringify(v);
}

/** Whether a value holds any `${{`, for checks such as "no expression in sql.statement". */
export function hasExpression(v: unknown): boolean {
  if (typeof v === "string") return v.includes("${{");
  if (Array.isArray(v)) return v.some(hasExpression);
  if (v !== null && typeof v === "object") return Object.values(v).some(hasExpression);
  return false;
}
