// The one CEL environment (@marcbachmann/cel-js), skyflow's functions uuid() and now(), and the conversion of
// CEL values back to JSON. No I/O. Chosen over @bufbuild/cel by measurement (see bench/definitions.ts).
import { setFlagsFromString } from "node:v8";
import { Environment } from "@marcbachmann/cel-js";
import { SkyflowError } from "../../errors.js";
import { stepUuid } from "../ids.js";
import { type Budget, charging, EVAL_BUDGET_MS, meter, newBudget } from "./eval-budget.js";
import type { ExprContext } from "./types.js";

/** The names an expression may read; everything else is a load error. */
export const CONTEXT_NAMES = ["event", "steps", "run", "env", "error", "incoming"] as const;

/**
 * Evaluation is synchronous, so the state of the resolution in progress (its context and how many uuid()
 * calls it made) can live here for the duration of one evaluate/resolve call.
 */
interface Resolution {
  ctx: ExprContext;
  uuidCount: number;
  budget: Budget;
}
let current: Resolution | undefined;
/** Budgets several resolutions of one context share (see oneBudget). */
const shared = new WeakMap<ExprContext, Budget>();

/**
 * Runs `fn` with `ctx` as the resolution in progress; nested calls share the outer one's uuid counter and
 * budget. `fn` gets the budget, to see whether it ran out.
 */
export function withResolution<T>(ctx: ExprContext, fn: (budget: Budget) => T): T {
  if (current && current.ctx === ctx) return fn(current.budget);
  const budget = shared.get(ctx) ?? newBudget(ctx.budgetMs ?? EVAL_BUDGET_MS);
  const previous = current;
  current = { ctx, uuidCount: 0, budget };
  try {
    return charging(budget, () => fn(budget));
  } finally {
    current = previous;
  }
}

/** Runs `fn`, in which every resolution of `ctx` (a step's `if`, then its input) shares one budget. */
export function oneBudget<T>(ctx: ExprContext, fn: () => T): T {
  shared.set(ctx, newBudget(ctx.budgetMs ?? EVAL_BUDGET_MS));
  try {
    return fn();
  } finally {
    shared.delete(ctx);
  }
}

/** Set while the environment is built, to catch the evaluator a function is called with. */
let probe: ((ev: unknown) => void) | undefined;

function uuid(): string {
  if (!current) throw new SkyflowError("INTERNAL", "uuid() called outside a resolution");
  return stepUuid(current.ctx.run.id, current.ctx.uuidSeed, current.uuidCount++);
}

function now(this: unknown): Date {
  if (probe) {
    probe(this);
    return new Date(0);
  }
  if (!current) throw new SkyflowError("INTERNAL", "now() called outside a resolution");
  return current.ctx.now;
}

let env: Environment | undefined;

/** The shared environment, built on first use (nothing runs at import time). */
export function celEnvironment(): Environment {
  if (env) return env;
  // Names beyond CONTEXT_NAMES (a foreach's item and `index`, wait_for's `incoming`) depend on where an
  // expression is written: they type as dyn here, and expr.ts refuses every name its place does not have.
  const e = new Environment({
    homogeneousAggregateLiterals: false,
    enableOptionalTypes: true,
    unlistedVariablesAreDyn: true,
  });
  for (const name of CONTEXT_NAMES) e.registerVariable(name, "map");
  e.registerFunction("uuid(): string", uuid, { description: "A UUID that is the same on every retry" });
  e.registerFunction("now(): google.protobuf.Timestamp", now, { description: "The run's clock" });
  meterEvaluator(e);
  env = e;
  return e;
}

/**
 * cel-js calls functions with its evaluator as `this`: one probe call of now() catches it, and its `run` is
 * metered (eval-budget.ts). Without it no expression could be bounded, so that is an error, not a fallback.
 */
function meterEvaluator(e: Environment): void {
  // A regex that backtracks too much goes on in V8's linear-time engine (process-wide; any regex benefits):
  // one matches('^(a+)+$') over 41 characters took 38 s without it.
  setFlagsFromString("--enable-experimental-regexp-engine-on-excessive-backtracks");
  let ev: { run(ast: unknown, ctx: unknown): unknown } | undefined;
  probe = (x) => {
    ev = x as typeof ev;
  };
  try {
    e.evaluate("now()", {});
  } finally {
    probe = undefined;
  }
  if (!ev || typeof ev.run !== "function") {
    throw new SkyflowError(
      "INTERNAL",
      "cannot bound expression evaluation: cel-js changed how it calls functions",
    );
  }
  meter(ev as Parameters<typeof meter>[0]);
}

let functionNames: Set<string> | undefined;

/** Every function and macro name an expression may call. */
export function knownFunctions(): Set<string> {
  if (functionNames) return functionNames;
  const names = new Set(["has", "all", "exists", "exists_one", "map", "filter", "orValue", "dyn"]);
  for (const f of celEnvironment().getDefinitions().functions) names.add(f.name);
  functionNames = names;
  return names;
}

/** CEL value -> JSON value: ints become numbers, timestamps ISO strings, durations "<n>s". */
export function toJson(v: unknown): unknown {
  if (v === null || typeof v === "string" || typeof v === "boolean" || typeof v === "number") return v;
  if (typeof v === "bigint") return Number(v);
  if (v instanceof Date) return v.toISOString();
  if (Array.isArray(v)) return v.map(toJson);
  if (v instanceof Uint8Array) return Buffer.from(v).toString("base64");
  if (v instanceof Map) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of v) out[String(k)] = toJson(x);
    return out;
  }
  if (typeof v === "object" && v !== undefined) {
    const proto = Object.getPrototypeOf(v);
    if (proto === Object.prototype || proto === null) {
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) out[k] = toJson(x);
      return out;
    }
    return durationOrScalar(v);
  }
  return v;
}

function durationOrScalar(v: object): unknown {
  const d = v as { seconds?: unknown; nanos?: unknown };
  if (d.constructor?.name === "Duration" && d.seconds !== undefined) {
    return `${Number(d.seconds) + Number(d.nanos ?? 0) / 1e9}s`;
  }
  // UnsignedInt and other wrappers carry a numeric value.
  const n = Number((v as { valueOf(): unknown }).valueOf());
  return Number.isNaN(n) ? String(v) : n;
}
