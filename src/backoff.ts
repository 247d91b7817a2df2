// The one backoff: how long to wait before the next try of anything that retries (a step's retry policy, a
// pubsub reconnect, a trigger's failed message, a LISTEN reconnect). No I/O; the random source is passed in
// so tests pin the jitter.

export interface Backoff {
  /** The first wait, in ms. */
  initialMs: number;
  /** No wait is longer (before jitter). */
  maxMs: number;
  /** How the waits grow: the same every time, by `initialMs` each time, or doubling (default). */
  growth?: "fixed" | "linear" | "exponential";
  /**
   * `equal` (half fixed, half random) keeps a floor so a burst of failures does not hammer a server at
   * once; `full` spreads from zero; `none` (default) is exact.
   */
  jitter?: "none" | "equal" | "full";
}

/** The wait after `failures` failed tries (1 for the wait after the first), in whole ms. */
export function backoffMs(b: Backoff, failures: number, random: () => number = Math.random): number {
  const n = Math.max(1, failures);
  const growth = b.growth ?? "exponential";
  const raw =
    growth === "fixed"
      ? b.initialMs
      : growth === "linear"
        ? b.initialMs * n
        : // Past 2^30 the cap has long applied; the bound keeps the product finite.
          b.initialMs * 2 ** Math.min(n - 1, 30);
  const base = Math.min(raw, b.maxMs);
  const jitter = b.jitter ?? "none";
  if (jitter === "none") return Math.round(base);
  const r = random();
  return Math.round(jitter === "full" ? base * r : base / 2 + (base / 2) * r);
}
