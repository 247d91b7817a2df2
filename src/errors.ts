// Error classes and stable codes, chosen by what the engine does next (house style: errors section).
// Keys and tokens never go into a message: use redact() on anything that may carry one.

export type ErrorCode =
  | "DEFINITION_INVALID"
  | "STEP_RETRYABLE"
  | "STEP_FATAL"
  | "STEP_TIMEOUT"
  | "RUN_FAILED"
  | "CONFIG_INVALID"
  | "USAGE"
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

/** Field names that mark a credential, compared without case, `_` or `-`. */
const SECRET_NAMES = new Set([
  "apikey",
  "masterkey",
  "accesstoken",
  "refreshtoken",
  "idtoken",
  "authtoken",
  "sessiontoken",
  "password",
  "passwd",
  "pwd",
  "secret",
  "clientsecret",
  "privatekey",
  "authorization",
  "cookie",
  "token",
  "credential",
  "credentials",
]);
/** Name endings that do too: `new_password`, `stripe_secret`, `device-token`, `x-skygear-api-key`. */
const SECRET_ENDINGS = ["password", "passwd", "secret", "token", "apikey", "masterkey", "privatekey"];

/**
 * The one rule for which fields hold a credential, for everything skyflow stores, logs or shows: stored runs
 * (events, step inputs and outputs), log lines, errors, the dashboard.
 */
export function isSecretName(name: string): boolean {
  let secret = secretNames.get(name);
  if (secret === undefined) {
    const n = name.toLowerCase().replace(/[-_\s]/g, "");
    secret = SECRET_NAMES.has(n) || SECRET_ENDINGS.some((e) => n.endsWith(e));
    // Field names repeat (every record of a type, every run of a workflow): each is worked out once. The
    // bound keeps arbitrary keys (a map keyed by ids, say) from growing it without end.
    if (secretNames.size >= SECRET_NAMES_CACHED) secretNames.clear();
    secretNames.set(name, secret);
  }
  return secret;
}
const SECRET_NAMES_CACHED = 10_000;
const secretNames = new Map<string, boolean>();

/**
 * A JSON-ish value with secret-looking fields and the given secrets replaced; for logs, stored runs and
 * errors. Parts that hold no secret are shared, not copied; values other than strings, arrays and plain
 * objects (a Date from a SQL row, say) are kept as they are.
 */
export function redact(value: unknown, secrets: readonly string[] = []): unknown {
  if (typeof value === "string") {
    let out = value;
    for (const s of secrets) if (s && out.includes(s)) out = out.split(s).join("[redacted]");
    return out;
  }
  if (Array.isArray(value)) {
    let out: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const r = redact(value[i], secrets);
      if (r === value[i]) continue;
      out ??= value.slice();
      out[i] = r;
    }
    return out ?? value;
  }
  if (isPlainObject(value)) {
    let out: Record<string, unknown> | undefined;
    for (const k of Object.keys(value)) {
      const v = value[k];
      const r = isSecretName(k) ? "[redacted]" : redact(v, secrets);
      if (r === v) continue;
      out ??= { ...value };
      out[k] = r;
    }
    return out ?? value;
  }
  return value;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== "object") return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}
