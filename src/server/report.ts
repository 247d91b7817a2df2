// The server log's view of an error the client only sees as a generic 5xx: its kind, SQLSTATE and where it
// came from, never the request body, and never the database's message (it can quote stored values). No I/O.
import type { Logger } from "../log.js";
import type { SkygearServerError } from "./errors.js";

/**
 * Name, code, message and the top of the stack of a program error. A Postgres error (it has a SQLSTATE)
 * quotes the offending value in its message and detail, and a trigger's RAISE may say anything: of it,
 * only the SQLSTATE and where it arose (routine, constraint, table, column) are kept.
 */
export function describeError(err: unknown): Record<string, unknown> {
  if (!(err instanceof Error)) return { value: typeof err };
  const e = err as Error & Record<"code" | "routine" | "constraint" | "table" | "column", unknown>;
  if (typeof e.code === "string" && /^[0-9A-Z]{5}$/.test(e.code)) {
    const out: Record<string, unknown> = { name: "DatabaseError", code: e.code };
    for (const k of ["routine", "constraint", "table", "column"] as const) {
      if (typeof e[k] === "string") out[k] = e[k];
    }
    return out;
  }
  const out: Record<string, unknown> = { name: e.name, message: e.message };
  if (e.code !== undefined) out.code = e.code;
  if (e.stack) out.stack = e.stack.split("\n").slice(1, 6).join("\n");
  return out;
}

/**
 * Logs a failure's hidden cause. A 4xx needs no log (the client was told what was wrong), nor does 501
 * (NotSupported, NotImplemented: a feature this server lacks).
 */
export function reportUnexpected(
  log: Logger,
  err: SkygearServerError,
  context: Record<string, unknown>,
): void {
  if (err.status < 500 || err.status === 501) return;
  log.error(
    {
      ...context,
      error: err.errorName,
      cause: err.cause === undefined ? undefined : describeError(err.cause),
    },
    "request failed unexpectedly",
  );
}
