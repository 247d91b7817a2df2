// The `sql` step: one statement on the shared pool, in a transaction whose search_path puts the app schema
// first, committed with the engine's record of the try. Values only ever arrive as bound parameters; an
// expression inside `statement` is a load problem.

import { ident, pipelined } from "../db/pool.js";
import type { StepInput } from "../engine/definition/schema.js";
import type { StepKind } from "./types.js";

export const sql: StepKind<StepInput<"sql">, { rows: unknown[]; row_count: number }> = {
  kind: "sql",
  transactional: true,
  async run(ctx) {
    const b = ctx.input;
    const params = b.params ?? [];
    const client = await ctx.clients.pool.connect();
    // Abort cancels the statement server-side; the connection is then discarded rather than reused.
    let aborted = false;
    const onAbort = () => {
      aborted = true;
      void cancelBackend(ctx.clients.pool, (client as unknown as { processID?: number }).processID);
    };
    ctx.signal.addEventListener("abort", onAbort, { once: true });
    try {
      // One round trip: BEGIN and SET LOCAL (a simple query, no values) pipelined with the statement.
      const [, r] = await pipelined(client, [
        `BEGIN; SET LOCAL search_path TO ${ident(ctx.clients.appSchema)}, public`,
        { text: b.statement, values: params.map(bindable) },
      ]);
      const out = { rows: r!.rows, row_count: r!.rowCount ?? r!.rows.length };
      // Under the engine, the COMMIT carries the record of this try's success: exactly once across crashes.
      if (ctx.commit) await ctx.commit(client, out);
      else await client.query("COMMIT");
      return out;
    } catch (err) {
      await client.query("ROLLBACK").catch(() => {});
      throw err;
    } finally {
      ctx.signal.removeEventListener("abort", onAbort);
      client.release(aborted ? true : undefined);
    }
  },
};

/** Objects and arrays go to Postgres as JSON text (jsonb parameters); scalars as they are. */
function bindable(v: unknown): unknown {
  return v !== null && typeof v === "object" ? JSON.stringify(v) : v;
}

async function cancelBackend(pool: import("pg").Pool, pid: number | undefined): Promise<void> {
  if (!pid) return;
  await pool.query("SELECT pg_cancel_backend($1)", [pid]).catch(() => {});
}
