// Retry policy: whether a failed try runs again and after how long (backoff, cap, jitter). No I/O; the
// random source is injected so tests can pin jitter.
import type { RetryPolicy } from "./definition/types.js";
import type { StepErrorInfo } from "./state.js";

export type JitterMode = "full" | "equal";

/** With `on`, only the named errors retry; without it, only errors a retry can fix. */
export function shouldRetry(policy: RetryPolicy, error: StepErrorInfo, attempt: number): boolean {
  if (attempt >= policy.attempts) return false;
  if (policy.on) return policy.on.includes(error.name);
  return error.retryable === true;
}

/** The backoff before try `attempt + 1`, before jitter, capped by max_delay. */
export function backoffMs(policy: RetryPolicy, attempt: number): number {
  const n = Math.max(1, attempt);
  const raw =
    policy.backoff === "fixed"
      ? policy.delayMs
      : policy.backoff === "linear"
        ? policy.delayMs * n
        : policy.delayMs * 2 ** (n - 1);
  return Math.min(raw, policy.maxDelayMs);
}

/**
 * The wait before the next try. Equal jitter (half fixed, half random) keeps a floor so a burst of failures
 * does not hammer a server at once; full jitter spreads from zero. A server's retry-after wins.
 */
export function retryDelayMs(
  policy: RetryPolicy,
  attempt: number,
  opts: { random?: () => number; jitter?: JitterMode; retryAfterMs?: number } = {},
): number {
  if (opts.retryAfterMs !== undefined && opts.retryAfterMs >= 0) return Math.round(opts.retryAfterMs);
  const base = backoffMs(policy, attempt);
  if (!policy.jitter) return base;
  const r = (opts.random ?? Math.random)();
  const mode = opts.jitter ?? "equal";
  return Math.round(mode === "full" ? base * r : base / 2 + (base / 2) * r);
}
