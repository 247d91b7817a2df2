// The one CEL environment (@marcbachmann/cel-js), skyflow's functions uuid() and now(), and the conversion of
// CEL values back to JSON. No I/O. Chosen over @bufbuild/cel by measurement (see bench/definitions.ts).
import { Environment } from "@marcbachmann/cel-js";
import { stepUuid } from "../ids.js";
import type { ExprContext } from "./types.js";

/** The names an expression may read; everything else is a load error. */
export const CONTEXT_NAMES = ["event", "steps", "run", "env", "error"] as const;

/**
 * Evaluation is synchronous, so the state of the resolution in progress (its context and how many uuid()
 * calls it made) can live here for the duration of one evaluate/resolve call.
 */
interface Resolution {
  ctx: ExprContext;
  uuidCount: number;
}
let current: Resolution | undefined;

/** Runs `fn` with `ctx` as the resolution in progress; nested calls share the outer one's uuid counter. */
export function withResolution<T>(ctx: ExprContext, fn: () => T): T {
  if (current && current.ctx === ctx) return fn();
  const previous = current;
  current = { ctx, uuidCount: 0 };
  try {
    return fn();
  } finally {
    current = previous;
  }
}

function uuid(): string {
  if (!current) throw new Error("uuid() called outside a resolution");
  return stepUuid(current.ctx.run.id, current.ctx.uuidSeed, current.uuidCount++);
}

function now(): Date {
  if (!current) throw new Error("now() called outside a resolution");
  return current.ctx.now;
}

let env: Environment | undefined;

/** The shared environment, built on first use (nothing runs at import time). */
export function celEnvironment(): Environment {
  if (env) return env;
  const e = new Environment({ homogeneousAggregateLiterals: false, enableOptionalTypes: true });
  for (const name of CONTEXT_NAMES) e.registerVariable(name, "map");
  e.registerFunction("uuid(): string", uuid, { description: "A UUID that is the same on every retry" });
  e.registerFunction("now(): google.protobuf.Timestamp", now, { description: "The run's clock" });
  env = e;
  return e;
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
