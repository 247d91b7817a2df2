// The `sql` step: one statement on the shared pool, in a transaction whose search_path puts the app schema
// first, committed with the engine's record of the try. Values only ever arrive as bound parameters; an
// expression inside `statement` is a load problem. Steps ready together may share one transaction
// (sql-group.ts).

import { createHash } from "node:crypto";
import type pg from "pg";
import { checkout, isPromise } from "../db/checkout.js";
import { ident, pipelined, type Statement } from "../db/pool.js";
import type { StepInput } from "../engine/definition/schema.js";
import { cancelBackend, inGroup, isStalePlan } from "./sql-group.js";
import type { StepContext, StepKind } from "./types.js";

type Output = { rows: unknown[]; row_count: number };

export const sql: StepKind<StepInput<"sql">, Output> = {
  kind: "sql",
  transactional: true,
  async run(ctx) {
    // A parameterised statement (one command, prepared) under the engine may join others ready with it,
    // unless the daemon was told not to (SKYFLOW_SQL_GROUP=off).
    const params = ctx.input.params ?? [];
    if (ctx.commit && params.length > 0 && ctx.clients.sqlGroup !== false)
      return inGroup(ctx, statement(ctx.input.statement, params, true), output, () => alone(ctx));
    return alone(ctx);
  },
};

async function alone(ctx: StepContext<StepInput<"sql">>): Promise<Output> {
  const first = { stale: false };
  try {
    return await attempt(ctx, first);
  } catch (err) {
    // Its transaction rolled back at the statement, before anything committed: run it once more, unprepared.
    if (!first.stale || ctx.signal.aborted) throw err;
    return attempt(ctx);
  }
}

/**
 * A statement with parameters is prepared (named) on each connection it runs on (see `named`): Postgres
 * parses and plans it once per connection, not at every run (30-60 µs of the server's CPU per run of a
 * one-row INSERT here, a tenth to a sixth of the step's transaction). A table changed under a prepared
 * statement that returns rows can fail it with "cached plan must not change result type": that connection
 * is then discarded (its statement with it).
 */
async function attempt(ctx: StepContext<StepInput<"sql">>, prepared?: { stale: boolean }): Promise<Output> {
  const b = ctx.input;
  const params = b.params ?? [];
  // An idle connection in this same turn (see checkout).
  const got = checkout(ctx.clients.pool);
  const client = isPromise(got) ? await got : got;
  // Abort cancels the statement server-side; the connection is then discarded rather than reused.
  let aborted = false;
  const onAbort = () => {
    aborted = true;
    void cancelBackend(ctx.clients.pool, (client as unknown as { processID?: number }).processID);
  };
  try {
    let r: pg.QueryResult;
    try {
      // One round trip: BEGIN and SET LOCAL (a simple query, no values) pipelined with the statement.
      const answer = pipelined(client, [
        beginIn(ctx.clients.appSchema),
        statement(b.statement, params, prepared),
      ]);
      // Listened for once the statement is written (in this same turn: no abort can come between), not
      // before: adding the listener is not on the statement's way.
      ctx.signal.addEventListener("abort", onAbort, { once: true });
      [, r] = (await answer) as [pg.QueryResult, pg.QueryResult];
    } catch (err) {
      if (prepared && isStalePlan(err)) prepared.stale = true;
      throw err;
    }
    const out = output(r);
    // Under the engine, the COMMIT carries the record of this try's success: exactly once across crashes.
    if (ctx.commit) await ctx.commit(client, out);
    else await client.query("COMMIT");
    return out;
  } catch (err) {
    await client.query("ROLLBACK").catch(() => {});
    throw err;
  } finally {
    ctx.signal.removeEventListener("abort", onAbort);
    client.release(aborted || prepared?.stale ? true : undefined);
  }
}

/** The BEGIN of a step's transaction in `schema`, by schema (one or two per daemon). */
const begins = new Map<string, string>();
function beginIn(schema: string): string {
  let text = begins.get(schema);
  if (text === undefined) {
    text = `BEGIN; SET LOCAL search_path TO ${ident(schema)}, public`;
    if (begins.size >= MAX_PREPARED) begins.clear();
    begins.set(schema, text);
  }
  return text;
}

function statement(text: string, params: unknown[], prepared: unknown): Statement {
  return { text, values: params.map(bindable), ...named(text, params, prepared) };
}

function output(r: pg.QueryResult): Output {
  // A text of several commands (no parameters: a simple query) answers with one result each: the last one's.
  const last = Array.isArray(r) ? (r[r.length - 1] as pg.QueryResult) : r;
  return { rows: last.rows, row_count: last.rowCount ?? last.rows.length };
}

/**
 * The statements prepared on the pool's connections, by text, at most MAX_PREPARED of them: a connection
 * keeps what it prepared until it closes, and hot reloads may bring new texts for as long as the daemon
 * runs; texts past that many go unprepared, as before.
 */
const names = new Map<string, string>();
const MAX_PREPARED = 100;

/**
 * The statement's name, when it is to be prepared: only with parameters. Without, it goes as a simple query
 * (pg's rule for a statement with no values and no name), where a text of several commands is allowed.
 */
function named(text: string, params: unknown[], prepared: unknown): { name?: string } {
  if (!prepared || params.length === 0) return {};
  let name = names.get(text);
  if (name === undefined) {
    if (names.size >= MAX_PREPARED) return {};
    name = `skyflow_sql_${createHash("sha256").update(text).digest("hex").slice(0, 32)}`;
    names.set(text, name);
  }
  return { name };
}

/** Objects and arrays go to Postgres as JSON text (jsonb parameters); scalars as they are. */
function bindable(v: unknown): unknown {
  return v !== null && typeof v === "object" ? JSON.stringify(v) : v;
}
