// SkygearError: every failure of a Skygear call (error envelope, per-record error item, transport failure),
// classified retryable or not for the engine. Keys and tokens are scrubbed here, where errors enter.
import { redact, SkyflowError } from "../errors.js";

/** Names that mean "try again later" whatever their HTTP status (per-item errors arrive inside a 200). */
const RETRYABLE_NAMES = new Set([
  "NetworkError",
  "Timeout",
  "PluginUnavailable",
  "PluginInitializing",
  "PluginTimeout",
  "ResponseTimeout",
  "UnexpectedUnableToOpenDatabase",
  "UnexpectedError",
]);

/** 5xx answers that no retry can fix: the server says the feature is absent or misconfigured. */
const NEVER_RETRYABLE = new Set([
  "NotSupported",
  "NotImplemented",
  "UnexpectedPushNotificationNotConfigured",
  "InternalQueryInvalid",
]);

export function isRetryable(errorName: string, status: number): boolean {
  if (NEVER_RETRYABLE.has(errorName)) return false;
  if (RETRYABLE_NAMES.has(errorName)) return true;
  return status >= 500 || status === 429;
}

export interface SkygearErrorFields {
  /** The Skygear name (PermissionDenied, ...) or NetworkError, Timeout, Aborted, HttpError. */
  errorName: string;
  /** The Skygear numeric code; 0 for failures that never reached a Skygear answer. */
  skygearCode: number;
  /** HTTP status of the answer; 0 when there was none. */
  status: number;
  message: string;
  info?: unknown;
  /** Defaults to isRetryable(errorName, status). */
  retryable?: boolean;
}

export class SkygearError extends SkyflowError {
  readonly errorName: string;
  readonly skygearCode: number;
  readonly status: number;
  readonly info: unknown;
  readonly retryable: boolean;
  constructor(f: SkygearErrorFields, options?: { cause?: unknown }) {
    super("SKYGEAR_ERROR", f.message, options);
    this.errorName = f.errorName;
    this.skygearCode = f.skygearCode;
    this.status = f.status;
    this.info = f.info;
    this.retryable = f.retryable ?? isRetryable(f.errorName, f.status);
  }
}

/** Scrubs the secrets from a server-provided message and info before they enter an error. */
function scrub(
  message: unknown,
  info: unknown,
  secrets: readonly string[],
): { message: string; info: unknown } {
  const text = typeof message === "string" ? message : "";
  return {
    message: redact(text, secrets) as string,
    info: info === undefined ? undefined : redact(info, secrets),
  };
}

/** From a top-level error envelope `{error: {name, code, message, info}}` or a non-Skygear answer. */
export function errorFromResponse(
  action: string,
  status: number,
  body: unknown,
  secrets: readonly string[],
): SkygearError {
  const err = (body as { error?: unknown } | null)?.error;
  if (err && typeof err === "object") {
    const e = err as { name?: unknown; code?: unknown; message?: unknown; info?: unknown };
    const name = typeof e.name === "string" ? e.name : "UnexpectedError";
    const code = typeof e.code === "number" ? e.code : 0;
    const s = scrub(e.message, e.info, secrets);
    return new SkygearError({
      errorName: name,
      skygearCode: code,
      status,
      info: s.info,
      message: `${action} failed: ${name} (${code}, HTTP ${status}): ${s.message}`,
    });
  }
  // A v1 server answers a body that is not JSON with a bare 400; proxies answer 502/504 without envelope.
  const badRequest = status === 400;
  return new SkygearError({
    errorName: badRequest ? "BadRequest" : "HttpError",
    skygearCode: badRequest ? 107 : 0,
    status,
    message: `${action} failed: HTTP ${status} without a Skygear error body`,
  });
}

/** From one `{_type: "error", _id?, name, code, message, info?}` item of a 200 result. */
export function errorFromItem(
  action: string,
  item: Record<string, unknown>,
  extra: Record<string, unknown>,
  secrets: readonly string[],
): SkygearError {
  const name = typeof item.name === "string" ? item.name : "UnexpectedError";
  const code = typeof item.code === "number" ? item.code : 0;
  const id = typeof item._id === "string" ? item._id : undefined;
  const s = scrub(item.message, item.info, secrets);
  return new SkygearError({
    errorName: name,
    skygearCode: code,
    status: 200,
    info: redact({ id, itemInfo: s.info, ...extra }, secrets),
    message: `${action} failed for ${id ?? "an item"}: ${name} (${code}): ${s.message}`,
  });
}

/** A failure before any answer: connection refused/reset, DNS, TLS. Only the system code is kept. */
export function networkError(action: string, err: unknown): SkygearError {
  const code = (err as { code?: unknown } | null)?.code;
  const sys = typeof code === "string" ? code : "UNKNOWN";
  return new SkygearError({
    errorName: "NetworkError",
    skygearCode: 0,
    status: 0,
    info: { code: sys },
    message: `${action} failed: network error ${sys}`,
  });
}

export function timeoutError(action: string, timeoutMs: number): SkygearError {
  return new SkygearError({
    errorName: "Timeout",
    skygearCode: 0,
    status: 0,
    info: { timeoutMs },
    message: `${action} timed out after ${timeoutMs}ms`,
  });
}

/** The caller's AbortSignal fired (cancel, shutdown, step timeout); the engine decides what follows. */
export function abortedError(action: string): SkygearError {
  return new SkygearError({
    errorName: "Aborted",
    skygearCode: 0,
    status: 0,
    retryable: false,
    message: `${action} was aborted by the caller`,
  });
}
