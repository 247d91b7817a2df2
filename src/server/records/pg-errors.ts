// Postgres errors raised while reading or writing records -> Skygear errors (protocol §2.2, §5). No I/O.
import { SkygearServerError } from "../errors.js";

interface PgError {
  code?: string;
  message?: string;
  constraint?: string;
}

/** `query` says whether a 42xxx error came from a query's predicate (120) rather than a write. */
export function toSkygearError(err: unknown, context: "query" | "write" = "write"): SkygearServerError {
  if (err instanceof SkygearServerError) return err;
  const e = (err ?? {}) as PgError;
  const code = typeof e.code === "string" ? e.code : "";
  const detail = e.message ?? String(err);
  if (code === "23505") {
    return new SkygearServerError(
      "Duplicated",
      `duplicate value violates unique constraint ${e.constraint ?? ""}`.trim(),
    );
  }
  if (code === "23503") {
    return new SkygearServerError(
      "ConstraintViolated",
      `foreign key constraint ${e.constraint ?? ""} violated: ${detail}`,
    );
  }
  if (code.startsWith("22")) return new SkygearServerError("InvalidArgument", `invalid value: ${detail}`);
  if (code.startsWith("42") && context === "query") {
    return new SkygearServerError("RecordQueryInvalid", `the query cannot run: ${detail}`);
  }
  return new SkygearServerError("UnexpectedError", `unexpected database error: ${detail}`);
}
