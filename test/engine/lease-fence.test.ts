import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { LeaseFence } from "../../src/engine/lease-fence.js";

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

/** A fence of a 600 ms lease on the (faked) clock, and the runs it has given up so far. */
function fence600() {
  const expired: string[] = [];
  const fence = new LeaseFence(
    600,
    (id) => expired.push(id),
    () => Date.now(),
  );
  return { fence, expired };
}

describe("LeaseFence", () => {
  it("expires a run a sixth of its lease before the lease runs out, unless a later statement extended it", async () => {
    const { fence, expired } = fence600();
    const t0 = Date.now();
    fence.track("a", t0);
    fence.track("b", t0);
    fence.track("gone", t0);
    fence.forget("gone");
    await vi.advanceTimersByTimeAsync(300);
    fence.confirm(["b", "never-tracked"], Date.now());
    await vi.advanceTimersByTimeAsync(199);
    expect(expired).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(expired).toEqual(["a"]);
    // b was extended at t0 + 300: out at t0 + 900, given up at t0 + 800.
    await vi.advanceTimersByTimeAsync(299);
    expect(expired).toEqual(["a"]);
    await vi.advanceTimersByTimeAsync(1);
    expect(expired).toEqual(["a", "b"]);
    // A confirmation for a run already given up does not bring it back.
    fence.confirm(["a"], Date.now());
    await vi.advanceTimersByTimeAsync(2000);
    expect(expired).toEqual(["a", "b"]);
  });

  it("a run leased earlier than the one the timer waits for is still given up on time", async () => {
    const { fence, expired } = fence600();
    const t0 = Date.now();
    fence.track("late", t0 + 400);
    fence.track("early", t0 - 300); // leased by a statement sent before (a trigger's transaction)
    await vi.advanceTimersByTimeAsync(200);
    expect(expired).toEqual(["early"]);
    fence.clear();
    await vi.advanceTimersByTimeAsync(2000);
    expect(expired).toEqual(["early"]);
  });
});
