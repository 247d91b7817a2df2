// YAML text -> plain JS value plus the position of every path, with hints for the usual YAML traps
// (unquoted ": ", flow collections, expressions read as mappings). Anchors, aliases and << merges work, within
// the bounds of yaml-limits.ts. No I/O.
import {
  type Alias,
  type Document,
  isAlias,
  isMap,
  isPair,
  isScalar,
  isSeq,
  LineCounter,
  type Node,
  parseDocument,
  Scalar,
  type YAMLMap,
  type YAMLSeq,
} from "yaml";
import type { Problem } from "../../errors.js";
import { joinPath } from "./template.js";
import { yamlErrors } from "./yaml-hints.js";
import {
  DEFAULT_YAML_LIMITS,
  depthExceeded,
  expansionExceeded,
  flowDepthOverflow,
  LimitExceeded,
  type YamlLimits,
} from "./yaml-limits.js";

export interface Position {
  line: number;
  column: number;
}

interface Place {
  start: number;
  end: number;
  keyStart?: number;
}

export interface ParsedYaml {
  value: unknown;
  problems: Problem[];
  /** Position of the value at `path` (or of its key), falling back to the nearest enclosing path. */
  at(path: string, key?: boolean): Position;
  /** Position of the nth `${{` in the scalar at `path`. */
  exprAt(path: string, nth: number): Position;
}

export function parseYaml(file: string, text: string, limits = DEFAULT_YAML_LIMITS): ParsedYaml {
  const deep = flowDepthOverflow(text, limits);
  if (deep >= 0) return refused(file, text, depthExceeded(deep, limits));
  const lc = new LineCounter();
  // uniqueKeys is checked by mapValue instead: the yaml package compares every key with every other one, and
  // a mapping of 33,000 keys took 13 s.
  const doc = parseDocument(text, {
    lineCounter: lc,
    merge: true,
    prettyErrors: false,
    keepSourceTokens: false,
    uniqueKeys: false,
  });
  const places = new Map<string, Place>();
  const problems: Problem[] = [];
  const pos = (offset: number): Position => {
    const p = lc.linePos(offset);
    return { line: p.line, column: p.col };
  };
  const at = (path: string, key = false): Position => {
    let p = path;
    for (;;) {
      const place = places.get(p);
      if (place) return pos(key && place.keyStart !== undefined ? place.keyStart : place.start);
      if (p === "") return { line: 1, column: 1 };
      p = parentPath(p);
    }
  };
  const exprAt = (path: string, nth: number): Position => {
    const place = places.get(path);
    if (!place) return at(path);
    const raw = text.slice(place.start, place.end);
    let idx = -1;
    for (let i = 0; i <= nth; i++) {
      idx = raw.indexOf("${{", idx + 1);
      if (idx < 0) return pos(place.start);
    }
    return pos(place.start + idx);
  };
  const ctx: WalkCtx = {
    doc,
    text,
    places,
    problems,
    file,
    pos,
    limits,
    targets: new Map(),
    expanded: { n: 0 },
  };
  try {
    if (doc.errors.length > 0) {
      // The partial document still locates most errors: walk it for paths only, keeping its problems out.
      if (doc.contents) toValue(doc.contents as Node, "", { ...ctx, problems: [] }, 0);
      problems.push(...yamlErrors(file, text, doc, pos, (o) => pathAt(places, o)));
      return { value: undefined, problems, at, exprAt };
    }
    const value = doc.contents ? toValue(doc.contents as Node, "", ctx, 0) : null;
    return { value, problems, at, exprAt };
  } catch (err) {
    if (!(err instanceof LimitExceeded)) throw err;
    return refused(file, text, err);
  }
}

/** The one problem of a file that passed a bound, located without the parse it stopped. */
function refused(file: string, text: string, e: LimitExceeded): ParsedYaml {
  const before = text.slice(0, e.offset);
  const line = before.split("\n").length;
  const where = { line, column: e.offset - before.lastIndexOf("\n") };
  const problems = [{ file, ...where, path: "", message: e.message }];
  return { value: undefined, problems, at: () => where, exprAt: () => where };
}

/** `a.b[2]` -> `a.b`, `a["$x"]` -> `a`, `a` -> "". */
export function parentPath(p: string): string {
  const m = /^(.*?)(\.[A-Za-z_][A-Za-z0-9_-]*|\[[^\]]*\])$/.exec(p);
  return m ? m[1]! : "";
}

interface WalkCtx {
  doc: Document;
  text: string;
  places: Map<string, Place>;
  problems: Problem[];
  file: string;
  pos: (offset: number) => Position;
  limits: YamlLimits;
  /** Each alias's anchored node, resolved once (shared by every copy of the context). */
  targets: Map<Alias, Node | undefined>;
  /** Values produced so far by expanding aliases (shared by every copy of the context). */
  expanded: { n: number };
  /** Where the alias being expanded is written; set while walking its target. */
  aliasAt?: number;
  /** The anchored nodes being expanded, outermost first: an alias to one of them is a cycle. */
  expanding?: Node[];
}

function problemAt(ctx: WalkCtx, offset: number, path: string, message: string): void {
  ctx.problems.push({ file: ctx.file, ...ctx.pos(offset), path, message });
}

function toValue(node: Node, path: string, ctx: WalkCtx, depth: number, keyStart?: number): unknown {
  const range = node.range ?? [0, 0, 0];
  if (depth > ctx.limits.maxDepth) throw depthExceeded(ctx.aliasAt ?? range[0], ctx.limits);
  if (ctx.aliasAt !== undefined && ++ctx.expanded.n > ctx.limits.maxExpanded) {
    throw expansionExceeded(ctx.aliasAt, ctx.limits);
  }
  // Inside an alias's expansion paths are never looked up (a problem there is located at the alias).
  if (ctx.aliasAt === undefined && !ctx.places.has(path)) {
    ctx.places.set(path, { start: range[0], end: range[1], keyStart });
  }
  if (isAlias(node)) {
    // The yaml package searches the document for an alias's anchor on every resolve: once per alias here.
    const alias = node as Alias;
    if (!ctx.targets.has(alias)) ctx.targets.set(alias, alias.resolve(ctx.doc) as Node | undefined);
    const target = ctx.targets.get(alias);
    if (!target) {
      problemAt(
        ctx,
        range[0],
        path,
        `unknown anchor "${(node as Alias).source}": define it with &name first`,
      );
      return null;
    }
    if (ctx.expanding?.includes(target as Node)) {
      const message = `the alias *${(node as Alias).source} is used inside its own anchor`;
      throw new LimitExceeded(range[0], message);
    }
    // Nested aliases are charged to the outermost one, where the expansion was asked for.
    const expanding = [...(ctx.expanding ?? []), target as Node];
    const inner = { ...ctx, aliasAt: ctx.aliasAt ?? range[0], expanding };
    return toValue(target as Node, `${path}\u0000alias`, inner, depth);
  }
  if (isScalar(node)) return (node as Scalar).value;
  if (isSeq(node))
    return (node as YAMLSeq).items.map((x, i) => toValue(x as Node, `${path}[${i}]`, ctx, depth + 1));
  if (isMap(node)) return mapValue(node as YAMLMap, path, ctx, depth + 1);
  return null;
}

function mapValue(node: YAMLMap, path: string, ctx: WalkCtx, depth: number): unknown {
  const src = node.flow && node.range ? ctx.text.slice(node.range[0], node.range[1]) : "";
  if (src.startsWith("{{")) {
    problemAt(
      ctx,
      node.range![0],
      path,
      `${src.trim()} was read as a YAML mapping; write an expression as "$${src.trim()}" in quotes`,
    );
    return src;
  }
  const out: Record<string, unknown> = {};
  const merged: Record<string, unknown>[] = [];
  for (const pair of node.items) {
    if (!isPair(pair)) continue;
    const k = pair.key as Node | null;
    if (isScalar(k) && isMergeKey(k)) {
      merged.push(...mergeSources(pair.value as Node, path, ctx, depth));
      continue;
    }
    if (k && !isScalar(k)) {
      problemAt(
        ctx,
        k.range?.[0] ?? 0,
        path,
        "a mapping key must be plain text; quote values that contain { } [ ]",
      );
      continue;
    }
    const key = String(k ? (k as Scalar).value : "");
    if (Object.hasOwn(out, key)) {
      const message = "YAML syntax error: Map keys must be unique; each key may appear once in a mapping";
      problemAt(ctx, k?.range?.[0] ?? 0, path, message);
      continue;
    }
    const v = pair.value as Node | null;
    const p = joinPath(path, key);
    setOwn(out, key, v ? toValue(v, p, ctx, depth, k?.range?.[0]) : null);
    if (!v)
      ctx.places.set(p, { start: k?.range?.[1] ?? 0, end: k?.range?.[1] ?? 0, keyStart: k?.range?.[0] });
  }
  // Keys written in the mapping itself win over merged ones, and earlier merge sources over later ones.
  for (const m of merged.reverse())
    for (const [k, x] of Object.entries(m)) if (!Object.hasOwn(out, k)) setOwn(out, k, x);
  return out;
}

/** `o[key] = v` as an own property even for `__proto__`, which a plain assignment would make the prototype. */
function setOwn(o: Record<string, unknown>, key: string, v: unknown): void {
  Object.defineProperty(o, key, { value: v, enumerable: true, writable: true, configurable: true });
}

/** With `merge: true` the yaml package gives an unquoted `<<` key a symbol value. */
function isMergeKey(s: Scalar): boolean {
  const quoted = s.type === Scalar.QUOTE_DOUBLE || s.type === Scalar.QUOTE_SINGLE;
  const v = s.value;
  return !quoted && (v === "<<" || (typeof v === "symbol" && v.description === "<<"));
}

function mergeSources(v: Node, path: string, ctx: WalkCtx, depth: number): Record<string, unknown>[] {
  const list = isSeq(v) ? ((v as YAMLSeq).items as Node[]) : [v];
  const out: Record<string, unknown>[] = [];
  for (const item of list) {
    const x = toValue(item, `${path}\u0000merge`, ctx, depth);
    if (x && typeof x === "object" && !Array.isArray(x)) out.unshift(x as Record<string, unknown>);
    else problemAt(ctx, item.range?.[0] ?? 0, path, "a << merge takes a mapping or a list of mappings");
  }
  return out;
}

/**
 * The path of the smallest value whose source contains `offset`, "" when none does. Keys are left out (an
 * error at a key belongs to the value around it), and so are odd keys that only a misparse produces.
 */
function pathAt(places: Map<string, Place>, offset: number): string {
  let best = "";
  let size = Number.POSITIVE_INFINITY;
  for (const [path, p] of places) {
    if (path.includes("\u0000") || offset < p.start || offset > p.end) continue;
    if (p.end - p.start <= size) {
      best = path;
      size = p.end - p.start;
    }
  }
  const odd = best.search(/\["[^"]*[^\w"-][^"]*"\]|\["\$"\]/);
  return odd >= 0 ? best.slice(0, odd) : best;
}
