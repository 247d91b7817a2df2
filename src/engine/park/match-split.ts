// wait_for's `match`, split at its top-level `&&` into conjuncts, and the first `==` conjunct with one side
// that reads `incoming` alone and one side that does not read it: the lookup key of a waiting run. Used by
// the load check (a match without such an equality is refused) and at run time (park and event matching).
// Works on the CEL text with a small scanner (strings, brackets); each side is compiled on its own. No I/O.
import { compileExpression } from "../definition/expr.js";

export interface MatchKey {
  /** CEL text of the side that reads only `incoming` (evaluated on an arriving event). */
  incoming: string;
  /** CEL text of the other side (evaluated on the waiting run when it parks). */
  run: string;
  /** The conjuncts beyond the equality; empty when the equality is the whole match. */
  rest: string[];
}

/** Splits `source` at depth-0 occurrences of `sep` (outside strings and brackets). */
export function splitTopLevel(source: string, sep: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  let i = 0;
  while (i < source.length) {
    const ch = source[i]!;
    if (ch === '"' || ch === "'") {
      i = skipString(source, i);
      continue;
    }
    if (ch === "(" || ch === "[" || ch === "{") depth++;
    else if (ch === ")" || ch === "]" || ch === "}") depth--;
    else if (depth === 0 && source.startsWith(sep, i)) {
      parts.push(source.slice(start, i));
      i += sep.length;
      start = i;
      continue;
    }
    i++;
  }
  parts.push(source.slice(start));
  return parts.map((p) => p.trim());
}

/** Index just past the string literal starting at `i` (single, double or triple quoted; escapes kept). */
function skipString(s: string, i: number): number {
  const q = s[i]!;
  const triple = s.startsWith(q.repeat(3), i);
  const close = triple ? q.repeat(3) : q;
  let j = i + close.length;
  // A raw string (r'...') has no escapes, but its prefix was already passed as an identifier character.
  const raw = i > 0 && /[rR]/.test(s[i - 1]!) && (i < 2 || !/[A-Za-z0-9_]/.test(s[i - 2]!));
  while (j < s.length) {
    if (!raw && s[j] === "\\") {
      j += 2;
      continue;
    }
    if (s.startsWith(close, j)) return j + close.length;
    j++;
  }
  return s.length;
}

/** Operators of CEL's lowest precedence levels: a conjunct holding one at depth 0 is not a plain `==`. */
const LOOSE = ["||", "?", "!=", "<=", ">=", "<", ">", " in "];

function rootsOf(source: string, names?: readonly string[]): Set<string> | undefined {
  try {
    const loc = { file: "", line: 0, column: 0, ...(names ? { names: ["incoming", ...names] } : {}) };
    const e = compileExpression(source, loc);
    return new Set(e.refs.map((r) => r.root));
  } catch {
    return undefined;
  }
}

/**
 * The lookup equality of `match` (CEL text, without `${{ }}`), or undefined when it has none. An equality
 * whose run side reads the run (event, steps, run) is preferred to one with a constant (`incoming.x == 'y'`),
 * which would give every waiting run the same key. `names`: those the place adds (a foreach's item names).
 */
export function splitMatch(source: string, names?: readonly string[]): MatchKey | undefined {
  const all = equalities(source, names);
  const best = all.find((m) => m.runReads) ?? all[0];
  if (!best) return undefined;
  const { runReads: _, ...key } = best;
  return key;
}

function equalities(source: string, names?: readonly string[]): (MatchKey & { runReads: boolean })[] {
  const out: (MatchKey & { runReads: boolean })[] = [];
  const conjuncts = splitTopLevel(source, "&&");
  for (let i = 0; i < conjuncts.length; i++) {
    const c = stripParens(conjuncts[i]!);
    const sides = splitTopLevel(c, "==");
    if (sides.length !== 2) continue;
    if (sides.some((s) => LOOSE.some((op) => splitTopLevel(s, op).length > 1))) continue;
    const [a, b] = sides as [string, string];
    const ra = rootsOf(a, names);
    const rb = rootsOf(b, names);
    if (!ra || !rb) continue;
    const incomingOnly = (r: Set<string>) => r.has("incoming") && r.size === 1;
    const rest = conjuncts.filter((_, j) => j !== i);
    if (incomingOnly(ra) && !rb.has("incoming"))
      out.push({ incoming: a, run: b, rest, runReads: rb.size > 0 });
    else if (incomingOnly(rb) && !ra.has("incoming"))
      out.push({ incoming: b, run: a, rest, runReads: ra.size > 0 });
  }
  return out;
}

/** `(x)` -> `x` when the parentheses wrap the whole text. */
function stripParens(s: string): string {
  let t = s.trim();
  while (t.startsWith("(") && t.endsWith(")") && balanced(t.slice(1, -1))) t = t.slice(1, -1).trim();
  return t;
}

function balanced(s: string): boolean {
  let depth = 0;
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]!;
    if (ch === '"' || ch === "'") {
      i = skipString(s, i) - 1;
      continue;
    }
    if (ch === "(") depth++;
    else if (ch === ")" && --depth < 0) return false;
  }
  return depth === 0;
}
