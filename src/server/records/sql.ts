// Helpers for building parameterised SQL: values are always bound as $n parameters, never spliced in. No I/O.

export class Params {
  readonly values: unknown[] = [];

  /** Binds `v` and returns its placeholder (`$3`). */
  add(v: unknown): string {
    this.values.push(v);
    return `$${this.values.length}`;
  }
}
