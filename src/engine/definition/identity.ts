// Who a step acts as (workflow-dsl.md, "Who a step acts as"), settled when the file loads: `defaults.as`
// applied, every user id written as `user/<value>` so that no expression's value can ever read `master`
// (src/steps/common.ts actingAs reads it back), and the warnings `skyflow validate` prints. No I/O.
import type { Problem } from "../../errors.js";
import type { CompiledExpr } from "./expr.js";

/** The step kinds that take `as:`. */
export const IDENTITY_KINDS: ReadonlySet<string> = new Set(["query", "save", "delete", "action"]);

/** The one literal that means the master key with no user; only ever written in the file. */
export const MASTER = "master";

export interface StepIdentity {
  /** The block as the step will see it (a copy when `as` changed). */
  block: unknown;
  /** Where the `as` in force is written: the step's own block, `defaults.as`, or nowhere (the API key). */
  from?: "step" | "defaults";
  master: boolean;
}

/**
 * The step block with its identity settled. `as: null` says "no user" (the API key), also over a default.
 * A user id, literal or expression, gets a `user/` prefix here; the author's own prefix is dropped later.
 */
export function withIdentity(kind: string, block: unknown, defaultAs: unknown): StepIdentity {
  if (!IDENTITY_KINDS.has(kind) || !isMap(block)) return { block, master: false };
  const own = "as" in block;
  const from = own ? "step" : defaultAs !== undefined ? "defaults" : undefined;
  const as = own ? block.as : defaultAs;
  const { as: _, ...rest } = block;
  if (from === undefined || as === null) return { block: rest, ...(from ? { from } : {}), master: false };
  if (as === MASTER) return { block: { ...rest, as: MASTER }, from, master: true };
  return { block: { ...rest, as: `user/${String(as)}` }, from, master: false };
}

export interface IdentityWarningInput {
  file: string;
  /** The step's YAML path, e.g. `steps[2]`, and its kind. */
  path: string;
  kind: string;
  identity: StepIdentity;
  /** The expressions compiled from the step's `as` (empty for a literal). */
  exprs: CompiledExpr[];
  /** Where the `as` in force is written, for a literal. */
  at: { line: number; column: number };
  /** The workflow has a pubsub trigger: anyone holding the API key can write its `event.data`. */
  pubsub: boolean;
}

/** A warning for a step acting as master, or as a user id read from a pubsub message's data. */
export function identityWarnings(w: IdentityWarningInput): Problem[] {
  const asPath = w.identity.from === "defaults" ? "defaults.as" : `${w.path}.${w.kind}.as`;
  const step = `${w.path} (${w.kind})`;
  if (w.identity.master) {
    const message = `${step} acts as master: the master key with no user reads and writes every record, whoever owns it`;
    return [{ file: w.file, ...w.at, path: asPath, message }];
  }
  if (!w.pubsub) return [];
  return w.exprs
    .filter((e) => e.refs.some((r) => r.root === "event" && (r.name === "data" || r.name === undefined)))
    .map((e) => ({
      file: w.file,
      line: e.line,
      column: e.column,
      path: asPath,
      message: `${step} acts as a user id taken from a pubsub message, \${{ ${e.source} }}: anyone holding the API key can publish one and act as any user`,
    }));
}

/**
 * Who a try of a `kind` step acted as, from its stored input, for `runs show` and the dashboard:
 * `master`, `user <id>`, or `API key (no user)`; undefined for kinds that take no `as:`.
 */
export function actedAs(kind: string, input: unknown): string | undefined {
  if (!IDENTITY_KINDS.has(kind)) return undefined;
  const as = isMap(input) ? input.as : undefined;
  if (as === undefined || as === null) return "API key (no user)";
  if (as === MASTER) return "master key (no user)";
  const id = String(as)
    .replace(/^user\//, "")
    .replace(/^user\//, "");
  return `user ${id}`;
}

function isMap(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}
