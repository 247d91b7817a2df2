// Error classes and stable codes, chosen by what the engine does next (house style: errors section).
// Keys and tokens never go into a message: use redact() on anything that may carry one.

export type ErrorCode =
  | "DEFINITION_INVALID"
  | "STEP_RETRYABLE"
  | "STEP_FATAL"
  | "STEP_TIMEOUT"
  | "RUN_FAILED"
  | "CONFIG_INVALID"
  | "SKYGEAR_ERROR"
  | "DB_ERROR"
  | "INTERNAL";

export class SkyflowError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** One problem in a workflow file, located for `file:line:column: path: message`. */
export interface Problem {
  file: string;
  line: number;
  column: number;
  path: string;
  message: string;
}

export function formatProblem(p: Problem): string {
  return `${p.file}:${p.line}:${p.column}: ${p.path ? `${p.path}: ` : ""}${p.message}`;
}

/** A workflow file was rejected; the last good version of the workflow stays live. */
export class DefinitionError extends SkyflowError {
  readonly problems: Problem[];
  constructor(problems: Problem[]) {
    super("DEFINITION_INVALID", problems.map(formatProblem).join("\n"));
    this.problems = problems;
  }
}

/**
 * Raised by a step try. `errorName` is what `retry.on` matches (a Skygear name such as
 * ResourceNotFound, or Timeout, NetworkError, SqlError).
 */
export abstract class StepError extends SkyflowError {
  readonly errorName: string;
  readonly info: unknown;
  constructor(
    code: ErrorCode,
    errorName: string,
    message: string,
    options?: { cause?: unknown; info?: unknown },
  ) {
    super(code, message, options);
    this.errorName = errorName;
    this.info = options?.info;
  }
  abstract get retryable(): boolean;
}

/** A retry can fix it: network errors, 5xx, timeouts, serialization failures. */
export class RetryableStepError extends StepError {
  readonly retryAfterMs: number | undefined;
  constructor(
    errorName: string,
    message: string,
    options?: { cause?: unknown; info?: unknown; retryAfterMs?: number },
  ) {
    super("STEP_RETRYABLE", errorName, message, options);
    this.retryAfterMs = options?.retryAfterMs;
  }
  get retryable(): boolean {
    return true;
  }
}

/** Retrying cannot help (PermissionDenied, InvalidArgument, SQL syntax error): fail at once unless `retry.on` names it. */
export class FatalStepError extends StepError {
  constructor(errorName: string, message: string, options?: { cause?: unknown; info?: unknown }) {
    super("STEP_FATAL", errorName, message, options);
  }
  get retryable(): boolean {
    return false;
  }
}

/** One try exceeded its `timeout`; it counts as error name `Timeout` and is retryable. */
export class StepTimeoutError extends StepError {
  constructor(stepId: string, timeoutMs: number) {
    super("STEP_TIMEOUT", "Timeout", `step ${stepId} timed out after ${timeoutMs}ms`);
  }
  get retryable(): boolean {
    return true;
  }
}

export class RunFailedError extends SkyflowError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("RUN_FAILED", message, options);
  }
}

/** Bad configuration: the CLI exits with code 2 naming the variable or flag. */
export class ConfigError extends SkyflowError {
  readonly variable: string;
  constructor(variable: string, message: string) {
    super("CONFIG_INVALID", `${variable}: ${message}`);
    this.variable = variable;
  }
}

const SECRET_KEYS = /^(api_key|master_key|access_token|password|apiKey|masterKey|accessToken)$/i;

/** Deep copy of a JSON-ish value with secret-looking fields replaced; for logs, stored runs and errors. */
export function redact(value: unknown, secrets: readonly string[] = []): unknown {
  if (typeof value === "string") {
    let out = value;
    for (const s of secrets) if (s) out = out.split(s).join("[redacted]");
    return out;
  }
  if (Array.isArray(value)) return value.map((v) => redact(v, secrets));
  if (value && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      out[k] = SECRET_KEYS.test(k) ? "[redacted]" : redact(v, secrets);
    }
    return out;
  }
  return value;
}
