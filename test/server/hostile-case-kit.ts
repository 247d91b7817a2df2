// Builders of the hostile request cases (hostile-cases*.ts): the case shape and short constructors of
// bodies, records, queries and over-deep JSON text.
import type { Target } from "./hostile-kit.js";

export const kp = (v: unknown) => ({ $type: "keypath", $val: v });
/** JSON text nesting `leaf` n times in `open`...`close` (too deep for JSON.stringify). */
export const nested = (n: number, open: string, leaf: string, close: string) =>
  `${open.repeat(n)}${leaf}${close.repeat(n)}`;
export const deep = (n: number, leaf: unknown, wrap: (x: unknown) => unknown) => {
  let v = leaf;
  for (let i = 0; i < n; i++) v = wrap(v);
  return v;
};

export type Who = "master" | "client" | "alice" | "bob" | "mallory" | "none";
export interface Case {
  name: string;
  path: string;
  /** A JSON value (or a function of the users giving one), or raw text/bytes sent as is. */
  body: unknown | ((t: Target) => unknown);
  raw?: boolean;
  who?: Who;
  /** Per-item errors in a 200 (record save/delete), as v1 answers. */
  item?: boolean;
  /**
   * v1 extends the schema before it writes, so a save refused by the database (a reference to nothing)
   * may still have added its column: only rows must stay as they were.
   */
  ddl?: boolean;
}

export const save = (records: unknown, extra: Record<string, unknown> = {}): unknown => ({
  records,
  ...extra,
});
export const rec = (fields: Record<string, unknown>) => ({ _id: "note/hostile", ...fields });
export const q = (extra: Record<string, unknown>) => ({ record_type: "note", ...extra });
export const many = <T>(n: number, f: (i: number) => T): T[] => Array.from({ length: n }, (_, i) => f(i));
export const long = (n: number) => "x".repeat(n);
