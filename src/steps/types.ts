// The shape of a step kind (house style: "A step kind"). Steps never import the engine, never retry
// themselves, never touch xstate, never read the environment.
import type pg from "pg";
import type { Statement } from "../db/pool.js";
import type { Logger } from "../log.js";
import type { PubsubPublisher, SkygearClient } from "../skygear/types.js";

export interface StepClients {
  /** The shared container: calls with the API key and no user; `as:` goes through actingAs (common.ts). */
  skygear: SkygearClient;
  /** The shared pool. */
  pool: pg.Pool;
  /** `app_<name>`: the schema of the Skygear app, first on the sql step's search_path. */
  appSchema: string;
  pubsub: PubsubPublisher;
  /** false (SKYFLOW_SQL_GROUP=off): every `sql` step in a transaction of its own, never grouped. */
  sqlGroup?: boolean;
}

/**
 * A transaction that several steps share (src/steps/sql-group.ts): each gives the statement it would send
 * with its COMMIT, and hears once the one COMMIT answered. `before`: a simple query (no values) sent ahead of
 * the members' statements, once (a SET LOCAL for them).
 */
export interface SharedCommit {
  commitWith(s: Statement, before?: string): Promise<void>;
}

export interface StepContext<I = unknown> {
  /** The step's block with every expression already evaluated: plain JSON. */
  input: I;
  /** Aborted on timeout, cancel and shutdown. */
  signal: AbortSignal;
  /** 1 for the first try. */
  attempt: number;
  /** Run id + step key: the same on every retry and resume of this step. */
  idempotencyKey: string;
  log: Logger;
  clients: StepClients;
  /**
   * For a step whose effect is a transaction on `clients.pool`: commits that transaction, with the engine's
   * record that this try succeeded (with `output`) in it, so that the effect and that record commit together
   * or not at all, and a resumed run never does the effect twice. Call it instead of sending COMMIT; on a
   * throw, roll back. Given to kinds marked `transactional` only; absent, the step commits itself. With a
   * SharedCommit (a group's transaction), the record joins that transaction's one COMMIT.
   */
  commit?: (client: pg.PoolClient | SharedCommit, output: unknown) => Promise<void>;
}

/**
 * One step kind, written against `I`, its resolved input (for a built-in kind, `StepInput<kind>` of the
 * one typebox schema, src/engine/definition/schema.ts). The file's literal values are checked when the
 * workflow loads; what the expressions gave is checked once, by the same schema, before `run` (src/engine/step-kinds.ts).
 */
export interface StepKind<I = unknown, O = unknown> {
  kind: string;
  /** One try. Throws StepError subclasses (or errors the engine classifies). */
  run(ctx: StepContext<I>): Promise<O>;
  /**
   * The step commits its own transaction through `ctx.commit`: the save that begins its try must land
   * before it runs (that record updates the try's row), never while it holds a pooled connection.
   */
  transactional?: boolean;
}
