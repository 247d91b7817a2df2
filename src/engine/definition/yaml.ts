// YAML text -> plain JS value plus the position of every path, with hints for the usual YAML traps
// (unquoted ": ", flow collections, expressions read as mappings). Anchors, aliases and << merges work. No I/O.
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

export function parseYaml(file: string, text: string): ParsedYaml {
  const lc = new LineCounter();
  const doc = parseDocument(text, {
    lineCounter: lc,
    merge: true,
    prettyErrors: false,
    keepSourceTokens: false,
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
  const ctx: WalkCtx = { doc, text, places, problems, file, pos };
  if (doc.errors.length > 0) {
    // The partial document still locates most errors: walk it for paths only, keeping its problems out.
    if (doc.contents) toValue(doc.contents as Node, "", { ...ctx, problems: [] });
    problems.push(...yamlErrors(file, text, doc, pos, (o) => pathAt(places, o)));
    return { value: undefined, problems, at, exprAt };
  }
  const value = doc.contents ? toValue(doc.contents as Node, "", ctx) : null;
  return { value, problems, at, exprAt };
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
}

function problemAt(ctx: WalkCtx, offset: number, path: string, message: string): void {
  ctx.problems.push({ file: ctx.file, ...ctx.pos(offset), path, message });
}

function toValue(node: Node, path: string, ctx: WalkCtx, keyStart?: number): unknown {
  const range = node.range ?? [0, 0, 0];
  if (!ctx.places.has(path)) ctx.places.set(path, { start: range[0], end: range[1], keyStart });
  if (isAlias(node)) {
    const target = (node as Alias).resolve(ctx.doc);
    if (!target) {
      problemAt(
        ctx,
        range[0],
        path,
        `unknown anchor "${(node as Alias).source}": define it with &name first`,
      );
      return null;
    }
    return toValue(target as Node, `${path}\u0000alias`, ctx);
  }
  if (isScalar(node)) return (node as Scalar).value;
  if (isSeq(node)) return (node as YAMLSeq).items.map((x, i) => toValue(x as Node, `${path}[${i}]`, ctx));
  if (isMap(node)) return mapValue(node as YAMLMap, path, ctx);
  return null;
}

function mapValue(node: YAMLMap, path: string, ctx: WalkCtx): unknown {
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
      merged.push(...mergeSources(pair.value as Node, path, ctx));
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
    const v = pair.value as Node | null;
    const p = joinPath(path, key);
    out[key] = v ? toValue(v, p, ctx, k?.range?.[0]) : null;
    if (!v)
      ctx.places.set(p, { start: k?.range?.[1] ?? 0, end: k?.range?.[1] ?? 0, keyStart: k?.range?.[0] });
  }
  // Keys written in the mapping itself win over merged ones, and earlier merge sources over later ones.
  for (const m of merged.reverse()) for (const [k, x] of Object.entries(m)) if (!(k in out)) out[k] = x;
  return out;
}

/** With `merge: true` the yaml package gives an unquoted `<<` key a symbol value. */
function isMergeKey(s: Scalar): boolean {
  const quoted = s.type === Scalar.QUOTE_DOUBLE || s.type === Scalar.QUOTE_SINGLE;
  const v = s.value;
  return !quoted && (v === "<<" || (typeof v === "symbol" && v.description === "<<"));
}

function mergeSources(v: Node, path: string, ctx: WalkCtx): Record<string, unknown>[] {
  const list = isSeq(v) ? ((v as YAMLSeq).items as Node[]) : [v];
  const out: Record<string, unknown>[] = [];
  for (const item of list) {
    const x = toValue(item, `${path}\u0000merge`, ctx);
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

/** YAML syntax errors, at most one per line, with a hint when the line shows a known trap. */
function yamlErrors(
  file: string,
  text: string,
  doc: Document,
  pos: (o: number) => Position,
  pathOf: (offset: number) => string,
): Problem[] {
  const lines = text.split("\n");
  const seen = new Set<number>();
  const out: Problem[] = [];
  for (const err of doc.errors) {
    const p = pos(err.pos[0]);
    if (seen.has(p.line)) continue;
    seen.add(p.line);
    const lineText = lines[p.line - 1] ?? "";
    const hint = yamlHint(err.code, lineText, err.message);
    const message = `YAML syntax error: ${err.message.split("\n")[0]!.replace(/ at line \d+, column \d+.*$/, "")}`;
    out.push({ file, ...p, path: pathOf(err.pos[0]), message: hint ? `${message}; ${hint}` : message });
  }
  return out;
}

function yamlHint(code: string, line: string, message: string): string {
  const value = /^\s*(?:-\s+)?[^\s:#][^:#]*:\s+(.*)$/.exec(line)?.[1] ?? line.trim();
  if (/\$\{\{/.test(line) && /[[{]/.test(line.replace(/\$\{\{[\s\S]*?\}\}/g, ""))) {
    return 'an expression inside [ ] or { } must be quoted: "${{ ... }}"';
  }
  if (/\$\{\{/.test(value) && value.includes(": ")) return 'quote the whole value: "${{ ... }}"';
  if (code === "BLOCK_AS_IMPLICIT_KEY" || (code === "MULTILINE_IMPLICIT_KEY" && value.includes(": "))) {
    return `a value containing ": " must be quoted, e.g. "${value.replace(/"/g, '\\"')}"`;
  }
  if (/^[[{]/.test(value) && code === "UNEXPECTED_TOKEN") {
    return `a value starting with "${value[0]}" is read as a ${value[0] === "[" ? "list" : "mapping"}; quote the whole value`;
  }
  if (code === "MISSING_CHAR" && /quote/.test(message)) return "a quoted value needs its closing quote";
  if (code === "TAB_AS_INDENT") return "indent with spaces";
  if (code === "DUPLICATE_KEY") return "each key may appear once in a mapping";
  return "";
}
