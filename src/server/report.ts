// The server log's view of an error the client only sees as a generic 5xx: its kind, SQLSTATE and where it
// came from, never the request body, and never a value the database quoted in its message. No I/O.
import type { Logger } from "../log.js";
import type { SkygearServerError } from "./errors.js";

const QUOTED = /"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g;

/**
 * Name, code, message and the top of the stack of `err`. A Postgres error (it has a SQLSTATE) quotes the
 * offending value in its message and detail: its quoted parts are replaced and its detail is left out.
 */
export function describeError(err: unknown): Record<string, unknown> {
  if (!(err instanceof Error)) return { value: typeof err };
  const e = err as Error & { code?: unknown; routine?: unknown; constraint?: unknown; table?: unknown };
  const sqlstate = typeof e.code === "string" && /^[0-9A-Z]{5}$/.test(e.code);
  const out: Record<string, unknown> = {
    name: e.name,
    message: sqlstate ? e.message.replace(QUOTED, '"…"') : e.message,
  };
  if (e.code !== undefined) out.code = e.code;
  if (sqlstate) {
    for (const k of ["routine", "constraint", "table"] as const) if (e[k] !== undefined) out[k] = e[k];
  } else if (e.stack) {
    out.stack = e.stack.split("\n").slice(1, 6).join("\n");
  }
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
