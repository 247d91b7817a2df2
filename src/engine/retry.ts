// Retry policy: whether a failed try runs again and after how long. The wait itself is the one backoff
// (src/backoff.ts); this module reads a step's policy into it. No I/O; the random source is injected so
// tests can pin jitter.
import { backoffMs } from "../backoff.js";
import type { RetryPolicy } from "./definition/types.js";
import type { StepErrorInfo } from "./state.js";

export type JitterMode = "full" | "equal";

/** With `on`, only the named errors retry; without it, only errors a retry can fix. */
export function shouldRetry(policy: RetryPolicy, error: StepErrorInfo, attempt: number): boolean {
  if (attempt >= policy.attempts) return false;
  if (policy.on) return policy.on.includes(error.name);
  return error.retryable === true;
}

/**
 * The wait before try `attempt + 1`: the policy's backoff capped by max_delay, jittered (equal jitter unless
 * told otherwise) when the policy says so. A server's retry-after wins.
 */
export function retryDelayMs(
  policy: RetryPolicy,
  attempt: number,
  opts: { random?: () => number; jitter?: JitterMode; retryAfterMs?: number } = {},
): number {
  if (opts.retryAfterMs !== undefined && opts.retryAfterMs >= 0) return Math.round(opts.retryAfterMs);
  const jitter = policy.jitter ? (opts.jitter ?? "equal") : ("none" as const);
  const backoff = { initialMs: policy.delayMs, maxMs: policy.maxDelayMs, growth: policy.backoff, jitter };
  return backoffMs(backoff, attempt, opts.random);
}
