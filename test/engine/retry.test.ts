import { describe, expect, it } from "vitest";
import type { RetryPolicy } from "../../src/engine/definition/types.js";
import { retryDelayMs, shouldRetry } from "../../src/engine/retry.js";

const policy = (p: Partial<RetryPolicy>): RetryPolicy => ({
  attempts: 5,
  backoff: "exponential",
  delayMs: 1000,
  maxDelayMs: 30_000,
  jitter: false,
  ...p,
});

describe("retry policy", () => {
  it("reads the policy into the one backoff: fixed, linear or doubling, capped by max_delay", () => {
    expect([1, 2, 3].map((a) => retryDelayMs(policy({ backoff: "fixed" }), a))).toEqual([1000, 1000, 1000]);
    expect([1, 2, 3].map((a) => retryDelayMs(policy({ backoff: "linear" }), a))).toEqual([1000, 2000, 3000]);
    expect([1, 2, 3, 6].map((a) => retryDelayMs(policy({ maxDelayMs: 5000 }), a))).toEqual([
      1000, 2000, 4000, 5000,
    ]);
  });

  it("jitters from the injected random: equal jitter keeps half, full jitter spreads from zero", () => {
    const p = policy({ jitter: true });
    expect(retryDelayMs(p, 2, { random: () => 0 })).toBe(1000);
    expect(retryDelayMs(p, 2, { random: () => 1 })).toBe(2000);
    expect(retryDelayMs(p, 2, { random: () => 0.25, jitter: "full" })).toBe(500);
    expect(retryDelayMs(p, 2, { random: () => 0.5, retryAfterMs: 7000 })).toBe(7000);
  });

  it("retries errors a retry can fix, or only the names in `on`, within the attempts", () => {
    const net = { name: "NetworkError", message: "", retryable: true };
    const denied = { name: "PermissionDenied", message: "", retryable: false };
    expect(shouldRetry(policy({}), net, 1)).toBe(true);
    expect(shouldRetry(policy({}), net, 5)).toBe(false);
    expect(shouldRetry(policy({}), denied, 1)).toBe(false);
    expect(shouldRetry(policy({ on: ["PermissionDenied"] }), denied, 1)).toBe(true);
    expect(shouldRetry(policy({ on: ["Timeout"] }), net, 1)).toBe(false);
  });
});
