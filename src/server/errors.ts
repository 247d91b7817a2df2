// Skygear v1 error codes and their HTTP statuses (protocol §2.2), and the error that action handlers throw.
// The router turns it into the `{error: {name, code, message, info}}` envelope.

export const ERROR_CODES = {
  NotAuthenticated: 101,
  PermissionDenied: 102,
  AccessKeyNotAccepted: 103,
  AccessTokenNotAccepted: 104,
  InvalidCredentials: 105,
  InvalidSignature: 106,
  BadRequest: 107,
  InvalidArgument: 108,
  Duplicated: 109,
  ResourceNotFound: 110,
  NotSupported: 111,
  NotImplemented: 112,
  ConstraintViolated: 113,
  IncompatibleSchema: 114,
  AtomicOperationFailure: 115,
  PartialOperationFailure: 116,
  UndefinedOperation: 117,
  PluginUnavailable: 118,
  PluginTimeout: 119,
  RecordQueryInvalid: 120,
  PluginInitializing: 121,
  ResponseTimeout: 122,
  DeniedArgument: 123,
  RecordQueryDenied: 124,
  NotConfigured: 125,
  PasswordPolicyViolated: 126,
  UserDisabled: 127,
  VerificationRequired: 128,
  AssetSizeTooLarge: 129,
  UnexpectedError: 10000,
  UnexpectedAuthInfoNotFound: 10001,
  UnexpectedUnableToOpenDatabase: 10002,
  UnexpectedPushNotificationNotConfigured: 10003,
  InternalQueryInvalid: 10004,
  UnexpectedUserNotFound: 10005,
} as const;

export type ErrorName = keyof typeof ERROR_CODES;

const STATUS: Partial<Record<ErrorName, number>> = {
  NotAuthenticated: 401,
  PermissionDenied: 403,
  AccessKeyNotAccepted: 401,
  AccessTokenNotAccepted: 401,
  InvalidCredentials: 401,
  InvalidSignature: 401,
  BadRequest: 400,
  InvalidArgument: 400,
  Duplicated: 409,
  ResourceNotFound: 404,
  NotSupported: 501,
  NotImplemented: 501,
  ConstraintViolated: 409,
  IncompatibleSchema: 409,
  AtomicOperationFailure: 409,
  PartialOperationFailure: 200,
  UndefinedOperation: 404,
  PluginUnavailable: 503,
  PluginTimeout: 504,
  RecordQueryInvalid: 400,
  PluginInitializing: 503,
  ResponseTimeout: 503,
  DeniedArgument: 403,
  RecordQueryDenied: 403,
  NotConfigured: 503,
  UserDisabled: 403,
  VerificationRequired: 403,
  UnexpectedError: 500,
  UnexpectedUnableToOpenDatabase: 503,
};

export function defaultStatus(name: ErrorName): number {
  return STATUS[name] ?? 500;
}

export class SkygearServerError extends Error {
  readonly errorName: ErrorName;
  readonly code: number;
  readonly status: number;
  readonly info: unknown;
  /** `cause` is for the server log only: it never reaches the client. */
  constructor(
    name: ErrorName,
    message: string,
    opts: { info?: unknown; status?: number; cause?: unknown } = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = "SkygearServerError";
    this.errorName = name;
    this.code = ERROR_CODES[name];
    this.status = opts.status ?? defaultStatus(name);
    this.info = opts.info;
  }

  /** The `error` object of the envelope (and, with `_id`/`_type`, of a per-item error). */
  toJSON(): Record<string, unknown> {
    const out: Record<string, unknown> = { name: this.errorName, code: this.code, message: this.message };
    if (this.info !== undefined) out.info = this.info;
    return out;
  }

  /** A per-item error inside a 200 result (record save/fetch/delete, push). */
  toItem(id?: string): Record<string, unknown> {
    const out: Record<string, unknown> = { _type: "error", ...this.toJSON() };
    if (id !== undefined) out._id = id;
    return out;
  }
}
