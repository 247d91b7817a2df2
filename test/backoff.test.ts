import { describe, expect, it } from "vitest";
import { backoffMs } from "../src/backoff.js";

const at = (r: number) => () => r;

describe("backoffMs, the one backoff", () => {
  it("doubles from the first wait up to the cap by default", () => {
    const b = { initialMs: 100, maxMs: 1000 };
    expect([1, 2, 3, 4, 5, 11].map((n) => backoffMs(b, n))).toEqual([100, 200, 400, 800, 1000, 1000]);
    // Far past the cap it stays finite and capped.
    expect(backoffMs(b, 5000)).toBe(1000);
    // Zero failures reads as the first wait.
    expect(backoffMs(b, 0)).toBe(100);
  });

  it("grows fixed or linear on request", () => {
    expect([1, 2, 3].map((n) => backoffMs({ initialMs: 250, maxMs: 600, growth: "fixed" }, n))).toEqual([
      250, 250, 250,
    ]);
    expect([1, 2, 3].map((n) => backoffMs({ initialMs: 250, maxMs: 600, growth: "linear" }, n))).toEqual([
      250, 500, 600,
    ]);
  });

  it("jitters from the injected random: equal keeps half, full spreads from zero, none is exact", () => {
    const b = { initialMs: 100, maxMs: 1000 };
    expect(backoffMs({ ...b, jitter: "equal" }, 3, at(0))).toBe(200);
    expect(backoffMs({ ...b, jitter: "equal" }, 3, at(1))).toBe(400);
    expect(backoffMs({ ...b, jitter: "equal" }, 3, at(0.5))).toBe(300);
    expect(backoffMs({ ...b, jitter: "full" }, 3, at(0.25))).toBe(100);
    expect(backoffMs({ ...b, jitter: "none" }, 3, at(0.25))).toBe(400);
    // The cap applies before the jitter.
    expect(backoffMs({ ...b, jitter: "equal" }, 11, at(0))).toBe(500);
  });
});
