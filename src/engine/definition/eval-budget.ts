// The cost bound of expression evaluation. CEL always terminates, but nested comprehensions over lists do not
// terminate soon: `l.map(a, l.map(b, l.map(c, ...)))` once held the event loop 7 to 13 s inside a step whose
// timeout was 5 s. cel-js has no cost limit of its own (v8: parse-time limits only), so every node it
// evaluates goes through a counter here: operations, the size of the lists and strings built, and the clock.
// Past any of them the evaluation stops, and stays stopped (cel-js turns errors into values under && and ||
// and in exists(), so one throw is not enough). No I/O.

import { SkyflowError } from "../../errors.js";
import type { AstNode } from "./expr.js";

/** Longest one resolution (a step's `if` and input, a trigger's `when`) may run, unless told less. */
export const EVAL_BUDGET_MS = 100;
/**
 * A trigger's `when` and a `concurrency.key` run for every event, before any run exists, and anyone holding
 * the API key can send events at will: they get a tenth.
 */
export const TRIGGER_BUDGET_MS = 10;
/** Operations per millisecond of budget: 1,000,000 for 100 ms, about 25 to 65 ms of work on this machine. */
const OPS_PER_MS = 10_000;
/** List elements plus string characters / 8 built per millisecond of budget: 500,000 for 100 ms. */
const UNITS_PER_MS = 5_000;
/** The clock is read every this many operations, and at every comprehension. */
const CLOCK_EVERY = 32;

/** Operations whose result is built anew (and may be large): charged by its size. */
const BUILDS = new Set(["+", "call", "rcall", "comprehension"]);

export interface Budget {
  /** The limit in milliseconds this budget was given. */
  ms: number;
  ops: number;
  units: number;
  maxOps: number;
  maxUnits: number;
  deadline: number;
  /** Set once a limit is passed; every later operation throws it again. */
  stop?: BudgetStop;
}

/** Thrown inside cel-js when a budget runs out; expr.ts turns it into the step's error. */
export class BudgetStop extends SkyflowError {
  constructor(readonly limit: "operations" | "size" | "time") {
    super("INTERNAL", `expression evaluation stopped: ${limit} limit`);
  }
}

export function newBudget(ms: number): Budget {
  const m = Math.max(1, Math.min(ms, EVAL_BUDGET_MS));
  return {
    ms: m,
    ops: 0,
    units: 0,
    maxOps: m * OPS_PER_MS,
    maxUnits: m * UNITS_PER_MS,
    deadline: performance.now() + m,
  };
}

let active: Budget | undefined;

/** Runs `fn` with `b` as the budget every evaluated node is charged to. */
export function charging<T>(b: Budget, fn: () => T): T {
  const previous = active;
  active = b;
  try {
    return fn();
  } finally {
    active = previous;
  }
}

function stop(b: Budget, limit: BudgetStop["limit"]): never {
  b.stop = new BudgetStop(limit);
  throw b.stop;
}

interface Evaluator {
  run(ast: AstNode, ctx: unknown): unknown;
}

/**
 * Wraps the evaluator's `run`, through which cel-js evaluates every child node and every comprehension step.
 * Outside `charging` (nothing active) it only forwards.
 */
export function meter(ev: Evaluator): void {
  ev.run = function run(this: Evaluator, ast: AstNode, ctx: unknown): unknown {
    const b = active;
    if (b) {
      if (b.stop) throw b.stop;
      if (++b.ops > b.maxOps) stop(b, "operations");
      if ((b.ops % CLOCK_EVERY === 0 || ast.op === "comprehension") && performance.now() > b.deadline) {
        stop(b, "time");
      }
    }
    const out = isMatches(ast) ? matches(this, ast, ctx) : evaluate(this, ast, ctx);
    if (b && BUILDS.has(ast.op)) {
      b.units += sizeOf(out);
      if (b.units > b.maxUnits) stop(b, "size");
    }
    return out;
  };
}

function evaluate(ev: Evaluator, ast: AstNode, ctx: unknown): unknown {
  return (ast as unknown as { evaluate(e: Evaluator, a: AstNode, c: unknown): unknown }).evaluate(
    ev,
    ast,
    ctx,
  );
}

/** `s.matches(re)`: evaluated by `matches` below instead of cel-js. */
export function isMatches(ast: AstNode): boolean {
  return (
    ast.op === "rcall" && Array.isArray(ast.args) && ast.args[0] === "matches" && ast.args[2]?.length === 1
  );
}

/**
 * `s.matches(re)`, as cel-js does it (a JS RegExp), but refusing what RE2, the syntax CEL specifies, does not
 * have: backreferences and lookaround. Those are what V8 cannot run in linear time; every other pattern falls
 * back to V8's linear engine when it backtracks too much (see cel.ts), so `(a+)+$` cannot hang.
 */
function matches(ev: Evaluator, ast: AstNode, ctx: unknown): unknown {
  const [, receiver, [pattern]] = ast.args as [string, AstNode, AstNode[]];
  const s = ev.run(receiver, ctx);
  const re = ev.run(pattern!, ctx);
  if (typeof s !== "string" || typeof re !== "string") return evaluate(ev, ast, ctx);
  if (/\\[1-9k]|\(\?<?[=!]/.test(re)) {
    throw new SkyflowError(
      "INTERNAL",
      `matches(): backreferences and lookaround are not supported (RE2 syntax): ${re.slice(0, 40)}`,
    );
  }
  try {
    return new RegExp(re).test(s);
  } catch {
    throw new SkyflowError("INTERNAL", `Invalid regular expression: ${re.slice(0, 40)}`);
  }
}

function sizeOf(v: unknown): number {
  if (typeof v === "string") return Math.ceil(v.length / 8);
  if (Array.isArray(v)) return v.length;
  if (v instanceof Map || v instanceof Set) return v.size;
  if (v instanceof Uint8Array) return Math.ceil(v.length / 8);
  return 1;
}
