// Compiling one CEL expression (syntax, names and functions checked at load) and evaluating it with errors
// that name the file, the line and the likely fix. No I/O.
import { DefinitionError, FatalStepError, type Problem, StepError } from "../../errors.js";
import { CONTEXT_NAMES, celEnvironment, knownFunctions, toJson, withResolution } from "./cel.js";
import { type Budget, isMatches } from "./eval-budget.js";
import { nearest } from "./nearest.js";
import type { Expr, ExprContext } from "./types.js";

export interface SourceLoc {
  file: string;
  line: number;
  column: number;
  /** YAML path of the value holding the expression, for problems. */
  path?: string;
  /**
   * Names this place adds to CONTEXT_NAMES: a foreach's item name and `index` inside its steps, `incoming`
   * in wait_for's match. Any other name is a load error.
   */
  names?: readonly string[];
  /** Item names of foreach steps elsewhere in the workflow, for a message that says where they apply. */
  itemNames?: ReadonlyMap<string, string>;
}

/** A name the expression reads from its context: `steps.<name>`, `env.<name>`, `error`, ... */
export interface ExprRef {
  root: string;
  name?: string;
  /** Offset in the source. */
  pos?: number;
}

/** What compileExpression returns: the contract's Expr plus what static checks need. */
export interface CompiledExpr extends Expr {
  refs: ExprRef[];
  /** YAML path of the value holding the expression. */
  path?: string;
  /** The parsed expression, for checks of its shape (wait_for's match). */
  ast: AstNode;
}

/** A CEL expression failed while a step ran; retrying cannot help, so it is fatal. */
export class ExpressionError extends FatalStepError {
  readonly file: string;
  readonly line: number;
  constructor(expr: Expr, reason: string, options?: { cause?: unknown }) {
    const hint = runtimeHint(reason);
    const where = `${expr.file}:${expr.line}:${expr.column}`;
    super(
      "ExpressionError",
      `${where}: \${{ ${expr.source} }}: ${reason}${hint ? `; ${hint}` : ""}`,
      options,
    );
    this.file = expr.file;
    this.line = expr.line;
  }
}

type CelProgram = ((ctx: object) => unknown) & { ast: AstNode; check(): { valid: boolean; error?: Error } };
export interface AstNode {
  op: string;
  args: unknown;
  pos?: number;
}

/** Compiles `source` (CEL text without `${{ }}`); throws DefinitionError with the problem. */
export function compileExpression(source: string, loc: SourceLoc): CompiledExpr {
  const r = tryCompileExpression(source, loc);
  if (!r.expr) throw new DefinitionError(r.problems);
  return r.expr;
}

/** Like compileExpression, but returns the problems instead of throwing. */
export function tryCompileExpression(
  source: string,
  loc: SourceLoc,
): { expr?: CompiledExpr; problems: Problem[] } {
  const c = compileSource(source);
  if (c.error) {
    const { pos, message } = c.error;
    const p: Problem = {
      file: loc.file,
      line: loc.line,
      column: loc.column + pos,
      path: loc.path ?? "",
      message,
    };
    return { problems: [p] };
  }
  const unknown = c.refs!.find((r) => !allowedRoot(r.root, loc));
  if (unknown) {
    const p: Problem = {
      file: loc.file,
      line: loc.line,
      column: loc.column + (unknown.pos ?? 0),
      path: loc.path ?? "",
      message: unknownNameMessage(unknown.root, loc),
    };
    return { problems: [p] };
  }
  return { expr: makeExpr(source, loc, c.program!, c.refs!, c.ast!), problems: [] };
}

/** The names every expression sees; `incoming` only where its place adds it (wait_for's match). */
const BASE_NAMES: readonly string[] = CONTEXT_NAMES.filter((n) => n !== "incoming");

function allowedRoot(root: string, loc: SourceLoc): boolean {
  // Without `names` the place is not known (a part of a match compiled as a run waits): `incoming` may be read.
  if (loc.names === undefined && root === "incoming") return true;
  return BASE_NAMES.includes(root) || builtinNames().has(root) || (loc.names?.includes(root) ?? false);
}

let builtins: Set<string> | undefined;

/** Names CEL itself defines: the type names (`type(x) == string`), `google`, `optional`, `cel`. */
function builtinNames(): Set<string> {
  builtins ??= new Set(
    celEnvironment()
      .getDefinitions()
      .variables.map((v: { name: string }) => v.name)
      .filter((n: string) => !(CONTEXT_NAMES as readonly string[]).includes(n)),
  );
  return builtins;
}

function unknownNameMessage(name: string, loc: SourceLoc): string {
  if (name === "incoming") return "incoming is only available in wait_for's match (the arriving event)";
  if (name === "index") return "index is only available inside a foreach's steps (the item's position)";
  const owner = loc.itemNames?.get(name);
  if (owner) return `${name} is the item name of the foreach at ${owner}: only available inside its steps`;
  const names = [...BASE_NAMES, ...(loc.names ?? [])];
  const near = nearest(name, names);
  const more = names.includes("incoming") ? "" : " (and, in wait_for.match, incoming)";
  return `unknown name "${name}"${near ? ` (did you mean "${near}"?)` : ""}; an expression sees ${names.join(", ")}${more}`;
}

interface Compiled {
  program?: CelProgram;
  ast?: AstNode;
  refs?: ExprRef[];
  error?: { pos: number; message: string };
}

/**
 * Parsed and checked programs by source text. Programs are stateless, so every place that writes the same
 * expression shares one: directories repeat `event.record._id` a lot, and each program costs ~1.5 KB of heap.
 */
const programs = new Map<string, Compiled>();
const PROGRAM_CACHE_LIMIT = 20_000;

function compileSource(source: string): Compiled {
  let c = programs.get(source);
  if (c) return c;
  c = parseAndCheck(source);
  if (programs.size >= PROGRAM_CACHE_LIMIT) programs.clear();
  programs.set(source, c);
  return c;
}

function parseAndCheck(source: string): Compiled {
  if (source.trim() === "") return { error: { pos: 0, message: "empty expression" } };
  let program: CelProgram;
  try {
    program = celEnvironment().parse(source) as unknown as CelProgram;
  } catch (err) {
    const e = err as Error & { range?: { start: number } };
    return {
      error: { pos: e.range?.start ?? 0, message: `expression syntax error: ${firstLine(e.message)}` },
    };
  }
  const checked = program.check();
  if (!checked.valid && checked.error) {
    const e = checked.error as Error & { range?: { start: number } };
    return { error: { pos: e.range?.start ?? 0, message: compileMessage(firstLine(e.message)) } };
  }
  // cel-js evaluates the root node without the metered `run` (eval-budget.ts), where matches() is made safe:
  // a root matches() runs inside dyn(), which evaluates it through `run`.
  const run = isMatches(program.ast)
    ? (celEnvironment().parse(`dyn(${source})`) as unknown as CelProgram)
    : program;
  return { program: run, ast: program.ast, refs: collectRefs(program.ast) };
}

function makeExpr(
  source: string,
  loc: SourceLoc,
  program: CelProgram,
  refs: ExprRef[],
  ast: AstNode,
): CompiledExpr {
  const path = fieldPath(ast);
  const expr: CompiledExpr = {
    source,
    file: loc.file,
    line: loc.line,
    column: loc.column,
    refs,
    ast,
    ...(loc.path !== undefined ? { path: loc.path } : {}),
    evaluate(ctx: ExprContext): unknown {
      if (path) {
        const v = readPath(ctx, path);
        if (v !== NOT_READ) return v;
      }
      return withResolution(ctx, (budget) => {
        let value: unknown;
        try {
          value = program(ctx);
        } catch (err) {
          if (budget.stop) throw budgetError(expr, budget);
          throw new ExpressionError(expr, firstLine((err as Error).message), { cause: err });
        }
        // cel-js may have turned the stop into a value (under && or ||, in exists()): it stands all the same.
        if (budget.stop) throw budgetError(expr, budget);
        return toJson(value);
      });
    },
  };
  return expr;
}

/**
 * The names of a field selection from a context name and nothing else (`event.record.title`: event, record,
 * title), the most common expression; undefined for any other expression.
 */
function fieldPath(ast: AstNode): string[] | undefined {
  const names: string[] = [];
  let n = ast;
  while (n.op === ".") {
    const [of, name] = n.args as [AstNode, unknown];
    if (typeof name !== "string") return undefined;
    names.push(name);
    n = of;
  }
  if (n.op !== "id" || typeof n.args !== "string" || names.length === 0) return undefined;
  names.push(n.args);
  return names.reverse();
}

const NOT_READ = Symbol("not read");

/**
 * A field selection's value read directly, where CEL's is sure to be the same: every field there (an own
 * property of a plain object), the value a string, a boolean, a finite number or null. Anything else (a
 * missing field, a list or map, another type) is NOT_READ, and CEL evaluates the expression (its errors,
 * its conversions). Evaluating it through cel-js took 20-30 µs of a record change's way to its run's first
 * statement in a daemon (cold caches), for what is a few property reads.
 */
function readPath(ctx: ExprContext, names: string[]): unknown {
  let v: unknown = ctx;
  for (const name of names) {
    if (v === null || typeof v !== "object") return NOT_READ;
    const proto = Object.getPrototypeOf(v);
    if ((proto !== Object.prototype && proto !== null) || !Object.hasOwn(v, name)) return NOT_READ;
    v = (v as Record<string, unknown>)[name];
  }
  if (v === null || typeof v === "string" || typeof v === "boolean") return v;
  if (typeof v === "number" && Number.isFinite(v) && !Object.is(v, -0)) return v;
  return NOT_READ;
}

/**
 * The error of an evaluation stopped by its budget: by the clock, a Timeout (retryable, as a step's own
 * timeout is); by operations or size, which retrying cannot change, an ExpressionError.
 */
function budgetError(expr: Expr, b: Budget): StepError {
  const where = `${expr.file}:${expr.line}:${expr.column}: \${{ ${expr.source} }}`;
  if (b.stop?.limit === "time")
    return new ExpressionTimeout(`${where}: evaluation took more than ${b.ms} ms`);
  const what =
    b.stop?.limit === "size" ? `${b.maxUnits} units of lists and text built` : `${b.maxOps} operations`;
  return new ExpressionError(
    expr,
    `evaluation stopped after ${what}, the limit of one evaluation; nested map/filter/exists over long lists cost their lengths multiplied`,
  );
}

/** An evaluation ran out of time: counts as the step's `Timeout`. */
export class ExpressionTimeout extends StepError {
  constructor(message: string) {
    super("STEP_TIMEOUT", "Timeout", message);
  }
  get retryable(): boolean {
    return true;
  }
}

function firstLine(s: string): string {
  return s.split("\n")[0]!.trim();
}

function compileMessage(msg: string): string {
  const unknownVar = /^Unknown variable: (\w+)/.exec(msg);
  if (unknownVar) {
    const name = unknownVar[1]!;
    const near = nearest(name, CONTEXT_NAMES);
    return `unknown name "${name}"${near ? ` (did you mean "${near}"?)` : ""}; an expression sees ${CONTEXT_NAMES.filter((n) => n !== "incoming").join(", ")} (and, in wait_for.match, incoming)`;
  }
  const fn = /found no matching overload for '([\w.]+)\(/.exec(msg);
  if (fn && !knownFunctions().has(fn[1]!.split(".").pop()!)) {
    const name = fn[1]!.split(".").pop()!;
    const near = nearest(name, [...knownFunctions()]);
    return `unknown function ${name}()${near ? ` (did you mean ${near}()?)` : ""}`;
  }
  const hint = runtimeHint(msg);
  return `expression type error: ${msg}${hint ? `; ${hint}` : ""}`;
}

/** The likely fix for a CEL error message, or "" when there is no useful advice. */
export function runtimeHint(msg: string): string {
  if (/overload.*\bint\b.*\bdouble\b|overload.*\bdouble\b.*\bint\b/.test(msg)) {
    return "JSON numbers are doubles in CEL: write 1.0 instead of 1, or convert with int(...) or double(...)";
  }
  if (/overload.*string.*[+].*(int|double)|overload.*(int|double).*[+].*string/.test(msg)) {
    return 'convert with string(...) to join text and numbers, e.g. "n=" + string(x)';
  }
  if (/index out of bounds/.test(msg)) return "check size(list) before indexing";
  if (/No such key/.test(msg)) {
    return "the field is missing or its parent is null: guard with has(a.b), or read a.?b.orValue(default)";
  }
  if (/division by zero|modulus by zero/.test(msg)) return "guard the divisor, e.g. d == 0 ? 0 : n / d";
  if (/Unknown variable: error/.test(msg)) return "`error` is only set in on_failure steps";
  return "";
}

function isNode(v: unknown): v is AstNode {
  return typeof v === "object" && v !== null && typeof (v as AstNode).op === "string" && "args" in v;
}

const MACROS = new Set(["map", "filter", "exists", "all", "exists_one"]);

/**
 * Names read from the context: `steps.x` / `steps["x"]` give {root: steps, name: x}. The variables that
 * macros bind (`x` in `list.map(x, x.a)`) are not context names and are left out.
 */
export function collectRefs(ast: AstNode): ExprRef[] {
  const refs: ExprRef[] = [];
  const bound = new Set<string>();
  const visit = (v: unknown): void => {
    if (Array.isArray(v)) {
      for (const x of v) visit(x);
      return;
    }
    if (!isNode(v)) return;
    const a = v.args as unknown[];
    const at = v.pos;
    if (v.op === "rcall" && MACROS.has(String(a[0])) && Array.isArray(a[2])) {
      const first = a[2][0];
      if (isNode(first) && first.op === "id") bound.add(String(first.args));
    }
    if (v.op === "id") refs.push({ root: String(v.args), pos: at });
    else if ((v.op === "." || v.op === ".?") && isNode(a[0]) && a[0].op === "id") {
      refs.push({ root: String(a[0].args), name: String(a[1]), pos: a[0].pos });
      return;
    } else if ((v.op === "[]" || v.op === "[?]") && isNode(a[0]) && a[0].op === "id" && isNode(a[1])) {
      if (a[1].op === "value" && typeof a[1].args === "string") {
        refs.push({ root: String(a[0].args), name: a[1].args, pos: a[0].pos });
        return;
      }
    }
    if (Array.isArray(v.args)) visit(v.args);
  };
  visit(ast);
  return refs.filter((r) => !bound.has(r.root));
}
