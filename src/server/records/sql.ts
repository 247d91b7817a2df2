// Helpers for building parameterised SQL: values are always bound as $n parameters, never spliced in; hot
// statements are sent as named prepared statements (parsed and planned once per connection). No I/O.
import { createHash } from "node:crypto";
import type pg from "pg";
import { SkygearServerError } from "../errors.js";
import { MAX_BOUND_VALUES } from "../limits.js";

/** Binds values as `$n`; past Postgres's limit of bound values a query answers 120 instead of a 500. */
export class Params {
  readonly values: unknown[] = [];

  /** Binds `v` and returns its placeholder (`$3`). */
  add(v: unknown): string {
    if (this.values.length >= MAX_BOUND_VALUES) {
      throw new SkygearServerError(
        "RecordQueryInvalid",
        `the request needs more than ${MAX_BOUND_VALUES} values in one statement`,
      );
    }
    this.values.push(v);
    return `$${this.values.length}`;
  }
}

/**
 * The row of `alias` as jsonb. `alias.*` always names the table: a bare `to_jsonb(alias)` takes a user
 * column of that name when there is one (a field named `t` made every query of its type answer that
 * field). Every statement over a record table encodes its rows through this.
 */
export function rowJSON(alias: string): string {
  return `to_jsonb(${alias}.*)`;
}

// Predicates make the set of statement texts open-ended, and each named statement lives on every pooled
// connection until it closes, so only the first MAX_NAMED texts get names; later ones go unnamed.
const MAX_NAMED = 500;
const names = new Map<string, string>();

/** A query config that is prepared once per connection (while the name budget lasts). */
export function prepared(text: string, values: unknown[]): pg.QueryConfig {
  let name = names.get(text);
  if (name === undefined && names.size < MAX_NAMED) {
    name = `skyflow_rec_${createHash("sha1").update(text).digest("hex").slice(0, 16)}`;
    names.set(text, name);
  }
  return name === undefined ? { text, values } : { name, text, values };
}
