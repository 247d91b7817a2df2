// Helpers for building parameterised SQL: values are always bound as $n parameters, never spliced in; hot
// statements are sent as named prepared statements (parsed and planned once per connection). No I/O.
import { createHash } from "node:crypto";
import type pg from "pg";

export class Params {
  readonly values: unknown[] = [];

  /** Binds `v` and returns its placeholder (`$3`). */
  add(v: unknown): string {
    this.values.push(v);
    return `$${this.values.length}`;
  }
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
