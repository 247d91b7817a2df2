// Postgres errors raised while serving a request -> Skygear errors (protocol §2.2, §5). A client never sees
// the database's own message (it can quote stored values); UnexpectedError keeps the error as its cause,
// for the server log. No I/O.
import { SkygearServerError } from "../errors.js";

interface PgError {
  code?: string;
  constraint?: string;
}

/** What went wrong with a value, by SQLSTATE (class 22: data exception). */
const VALUE_PROBLEMS: Record<string, string> = {
  "22001": "a value is too long for its field",
  "22003": "a number is out of range for its field",
  "22007": "a date is not valid",
  "22008": "a date is out of range",
  "22021": "a string holds a character that cannot be stored",
  "22P02": "a value does not match the type of its field",
  "22P05": "a string holds a character that cannot be stored",
};

/** Class 54 (program limit exceeded): Postgres's own size limits. */
const LIMIT_PROBLEMS: Record<string, string> = {
  "54000": "a value or record is too large to store or index",
  "54001": "the request is too complex",
  "54011": "the record type has too many fields",
  "54023": "the request has too many values",
};

const CONNECTION_ERRORS = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "ENOTFOUND"]);

/** `query` says whether the statement was a query's (42xxx and limits then answer 120, not 108). */
export function toSkygearError(err: unknown, context: "query" | "write" = "write"): SkygearServerError {
  if (err instanceof SkygearServerError) return err;
  const e = (err ?? {}) as PgError;
  const code = typeof e.code === "string" ? e.code : "";
  const invalid = context === "query" ? "RecordQueryInvalid" : "InvalidArgument";
  if (code === "23505") {
    return new SkygearServerError(
      "Duplicated",
      `duplicate value violates unique constraint ${e.constraint ?? ""}`.trim(),
    );
  }
  if (code === "23503") {
    return new SkygearServerError(
      "ConstraintViolated",
      `foreign key constraint ${e.constraint ?? ""} violated: the referenced record is missing, or another record still references this one`,
    );
  }
  if (code.startsWith("22")) {
    return new SkygearServerError(
      "InvalidArgument",
      `invalid value: ${VALUE_PROBLEMS[code] ?? "a value cannot be stored"} (SQLSTATE ${code})`,
    );
  }
  if (code.startsWith("54")) {
    return new SkygearServerError(
      invalid,
      `${LIMIT_PROBLEMS[code] ?? "the request exceeds a database limit"} (SQLSTATE ${code})`,
    );
  }
  if (code.startsWith("42") && context === "query") {
    return new SkygearServerError(
      "RecordQueryInvalid",
      `the query cannot run on these fields (SQLSTATE ${code})`,
    );
  }
  if (
    code.startsWith("08") ||
    code.startsWith("53") ||
    /^57P0[123]$/.test(code) ||
    CONNECTION_ERRORS.has(code)
  ) {
    return new SkygearServerError("UnexpectedUnableToOpenDatabase", "the database is unavailable", {
      cause: err,
    });
  }
  return unexpectedError(err);
}

/** The generic 500: its message says nothing of `cause`, which only the server log shows. */
export function unexpectedError(cause?: unknown): SkygearServerError {
  return new SkygearServerError("UnexpectedError", "An unexpected error occurred", { cause });
}
