// What a parked run waits for, as runs.wait stores it: read by resume.ts, `runs show`, the runs API and the
// dashboard (web/, which imports types only from here). Types only, no imports.

export interface WaitInfo {
  kind: "sleep" | "wait_for" | "call";
  step: string;
  /** When the wait began (the step's first try in this run attempt), ISO. */
  began: string;
  /** When it is due (sleep) or times out (wait_for); absent for a call. */
  until?: string;
  /** wait_for: the record type or pubsub channel it waits on. */
  source?: string;
  /** call: the child run and its workflow. */
  child?: string;
  workflow?: string;
  /**
   * A run parked inside a foreach or parallel (inner.ts): every inner step that waits (the fields above
   * are the first due one's), and the child runs of those that wait for a call.
   */
  inner?: WaitInfo[];
  children?: string[];
}
