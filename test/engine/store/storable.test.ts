import { describe, expect, it } from "vitest";
import { storable } from "../../../src/engine/store/storable.js";

describe("storable", () => {
  it("replaces NUL and lone surrogate halves with U+FFFD, in values and keys, and shares what needs no change", () => {
    const clean = { a: [1, "ok", { b: null }], d: new Date(0) };
    expect(storable(clean)).toBe(clean);
    const dirty = { ok: clean, s: "a\u0000b", t: ["x\ud800", "\udc00y", "🙂"], "k\u0000": 1 };
    const out = storable(dirty) as Record<string, unknown>;
    expect(out).toEqual({ ok: clean, s: "a\uFFFDb", t: ["x\uFFFD", "\uFFFDy", "🙂"], "k\uFFFD": 1 });
    expect(out.ok).toBe(clean);
    // The input is left as it was.
    expect(dirty.s).toBe("a\u0000b");
    // What comes out goes into jsonb: JSON.stringify of it has no \u0000 and no lone surrogate escapes.
    expect(JSON.stringify(out)).not.toMatch(/\\u0000|\\ud[89a-f]/i);
  });
});
