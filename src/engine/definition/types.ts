// The loaded, validated form of a workflow file: what the engine, the triggers and the CLI consume.
// Produced by the definition loader (src/engine/definition); no I/O here.
import type { Problem } from "../../errors.js";

/** A compiled `${{ }}` expression with where it came from, for errors that name file, line and column. */
export interface Expr {
  source: string;
  file: string;
  line: number;
  column: number;
  /** Evaluates against a context; throws ExpressionError (a FatalStepError) naming file:line and a fix. */
  evaluate(ctx: ExprContext): unknown;
}

/**
 * A step's block (or any value) with its expressions compiled. Resolve it with `resolveTemplate` from
 * src/engine/definition/expressions.ts to get plain JSON.
 */
export type Template = unknown;

export interface ExprContext {
  event: TriggerEvent;
  steps: Record<string, { output: unknown; status: StepStatus }>;
  run: { id: string; workflow: string; attempt: number; started_at: string };
  env: Record<string, string>;
  error?: { name: string; message: string; step: string };
  /** The run's clock, for now(). */
  now: Date;
  /** uuid() is derived from this seed (run id + step key) and its call count, so retries repeat it. */
  uuidSeed: string;
  /** The longest the evaluation may take, in ms (default and cap: 100; see eval-budget.ts). */
  budgetMs?: number;
  /**
   * Names an inner step's expressions see besides the above: each enclosing foreach's item name and `index`
   * (the innermost one's), and in wait_for's match `incoming`. Set as own properties of the context.
   */
  [local: string]: unknown;
}

export type StepStatus = "succeeded" | "failed" | "skipped";

export interface TriggerEvent {
  id: string;
  type: "record" | "pubsub" | "cron" | "manual" | "call";
  at: string;
  [field: string]: unknown;
}

export type RecordEventOp = "create" | "update" | "delete";

export type TriggerDefinition =
  | {
      kind: "record";
      type: string;
      database: "_public" | "_private" | "_any";
      events: RecordEventOp[];
      when?: Expr;
    }
  | { kind: "pubsub"; channel: string; when?: Expr }
  | {
      kind: "cron";
      schedule: string;
      timezone: string;
      catchUp: "none" | "last" | "all";
      overlap: "skip" | "queue" | "allow";
    }
  | { kind: "call" };

export interface RetryPolicy {
  /** Every try including the first. */
  attempts: number;
  backoff: "fixed" | "linear" | "exponential";
  delayMs: number;
  maxDelayMs: number;
  jitter: boolean;
  /** Error names that may be retried; undefined means "errors a retry can fix". */
  on?: string[];
}

export interface StepDefinition {
  /** The author's `id`, when given. */
  id?: string;
  /**
   * Stable key within its step list: the id, else `steps[<i>]` / `on_failure[<i>]`. A top-level step's
   * key names it in the run; an inner step's instance is named by its container's instance key, the item
   * or branch, and this key (see src/engine/tree.ts, instanceKey).
   */
  key: string;
  name: string;
  /** The kind key: query, save, delete, sql, publish, push, action. */
  kind: string;
  /** The kind's block with expressions compiled (for wait_for, without `match`). */
  input: Template;
  /** wait_for's `match`, compiled apart: it reads `incoming`, which exists only as an event arrives. */
  match?: Expr;
  if?: Expr;
  retry: RetryPolicy;
  timeoutMs: number;
  continueOnError: boolean;
  line: number;
  column: number;
  /** kind foreach: `input` is the list's template; these steps run for each item. */
  foreach?: { item: string; concurrency: number; steps: StepDefinition[] };
  /** kind parallel: the branches in file order, each a list of steps. */
  parallel?: { branches: { name: string; steps: StepDefinition[] }[] };
}

export interface WorkflowDefinition {
  name: string;
  /** Path of the file it was loaded from, as given to the loader. */
  file: string;
  description?: string;
  enabled: boolean;
  /** Content hash of the file text: runs remember the version they started on. */
  version: string;
  /** The file text, stored with each version so a resumed run recompiles exactly what it started with. */
  source: string;
  triggers: TriggerDefinition[];
  concurrency?: { limit: number; key?: Expr };
  steps: StepDefinition[];
  onFailure: StepDefinition[];
  /** The top-level `output` template; absent: the last step's output. */
  output?: Template;
  /** The `call` steps anywhere in the workflow, for the directory's checks (missing target, cycles). */
  calls?: { workflow: string; path: string; line: number; column: number }[];
  /** Loader warnings (steps acting as master, or as a user named by a pubsub message); see identity.ts. */
  warnings?: Problem[];
}

/** The live versions of all workflows; hot reload swaps entries atomically. */
export interface Catalog {
  get(name: string): WorkflowDefinition | undefined;
  list(): WorkflowDefinition[];
  /** Called after any change; returns an unsubscribe function. */
  subscribe(listener: () => void): () => void;
}
