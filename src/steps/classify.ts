// Turns whatever a step try threw into a StepError, by what the engine should do next: Skygear errors by
// their own retryable flag, network failures and timeouts retryable, pg errors by SQLSTATE. No I/O.
import { FatalStepError, RetryableStepError, StepError, StepTimeoutError } from "../errors.js";

const NETWORK_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "ETIMEDOUT",
  "EPIPE",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ERR_NETWORK",
  "UND_ERR_SOCKET",
  "UND_ERR_CONNECT_TIMEOUT",
  "UND_ERR_HEADERS_TIMEOUT",
  "UND_ERR_BODY_TIMEOUT",
  "UND_ERR_CLOSED",
]);

/**
 * SQLSTATEs a retry can fix: serialization failure, deadlock, lock not available, and the server shutting down
 * (admin or crash) or not yet accepting connections while it starts up (a database restart).
 */
const RETRYABLE_SQLSTATES = new Set(["40001", "40P01", "55P03", "57P01", "57P02", "57P03"]);

/**
 * node-postgres's own errors for a connection lost under a statement (a database restart): they carry no
 * code. The statement's transaction did not commit (a COMMIT without an answer is the runner's business).
 */
const PG_CONNECTION_LOST =
  /^(Connection terminated( unexpectedly| due to connection timeout)?|Client has encountered a connection error and is not queryable|Client was closed and is not queryable)$/;

export function isRetryableSqlState(code: string): boolean {
  return RETRYABLE_SQLSTATES.has(code) || code.startsWith("08") || code.startsWith("53");
}

export interface ClassifyOptions {
  /** The try was abandoned because its timeout expired. */
  timedOut?: { stepKey: string; timeoutMs: number };
}

export function classifyError(err: unknown, opts: ClassifyOptions = {}): StepError {
  if (opts.timedOut) return new StepTimeoutError(opts.timedOut.stepKey, opts.timedOut.timeoutMs);
  if (err instanceof StepError) return err;
  const e = (err ?? {}) as Record<string, unknown>;
  const message = err instanceof Error ? err.message : String(err);
  if (typeof e.errorName === "string" && typeof e.retryable === "boolean") {
    // A SkygearError (duck-typed so steps stay independent of the client's class identity).
    const options = { cause: err, info: e.info };
    return e.retryable
      ? new RetryableStepError(e.errorName, message, { ...options, retryAfterMs: num(e.retryAfterMs) })
      : new FatalStepError(e.errorName, message, options);
  }
  if (isPgError(e)) return classifyPgError(e, message, err);
  if (typeof e.code === "string" && NETWORK_CODES.has(e.code)) {
    return new RetryableStepError("NetworkError", message, { cause: err });
  }
  if (err instanceof Error && PG_CONNECTION_LOST.test(err.message)) {
    return new RetryableStepError("NetworkError", message, { cause: err });
  }
  if (e.name === "AbortError" || e.code === "ABORT_ERR") {
    return new RetryableStepError("Aborted", message, { cause: err });
  }
  return new FatalStepError("InternalError", message, { cause: err });
}

/** An error the Postgres server sent: it has a SQLSTATE and a severity. */
export function isPgError(err: unknown): err is { code: string; severity: string } {
  const e = (err ?? {}) as Record<string, unknown>;
  return typeof e.code === "string" && /^[0-9A-Z]{5}$/.test(e.code) && typeof e.severity === "string";
}

function classifyPgError(e: Record<string, unknown>, message: string, cause: unknown): StepError {
  const code = e.code as string;
  const info = { sqlstate: code, position: e.position };
  return isRetryableSqlState(code)
    ? new RetryableStepError("SqlError", message, { cause, info })
    : new FatalStepError("SqlError", message, { cause, info });
}

function num(v: unknown): number | undefined {
  return typeof v === "number" && Number.isFinite(v) ? v : undefined;
}
