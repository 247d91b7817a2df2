// The body guard and the nesting measure on literal inputs (issue 20, point 4). Pure.
import { describe, expect, it } from "vitest";
import type { SkygearServerError } from "../../src/server/errors.js";
import { badText, guardBody, nestingDepth } from "../../src/server/request-guard.js";

function refusal(body: unknown, depth = 10): SkygearServerError {
  try {
    guardBody(body, depth);
  } catch (err) {
    return err as SkygearServerError;
  }
  throw new Error("guardBody accepted the body");
}

describe("guardBody", () => {
  it("accepts ordinary bodies, surrogate pairs and emoji included", () => {
    expect(() =>
      guardBody({ records: [{ _id: "note/1", t: "héllo 😀", n: [1.5, -0, 1e308], m: { a: null } }] }, 10),
    ).not.toThrow();
  });

  it("refuses a NUL in a value or a key with 108, naming where and the top-level argument", () => {
    const v = refusal({ records: [{ _id: "note/1", title: "a\u0000b" }] });
    expect([v.code, v.status, v.message, v.info]).toEqual([
      108,
      400,
      "the string at records[0].title contains a NUL character (U+0000)",
      { arguments: ["records"] },
    ]);
    const k = refusal({ predicate: ["eq", { "a\u0000": 1 }] });
    expect(k.message).toBe("the key at predicate[1].a\u0000 contains a NUL character (U+0000)");
  });

  it("refuses lone surrogates, high or low, but not pairs", () => {
    expect(refusal({ a: "x\ud800" }).message).toMatch(/unpaired UTF-16 surrogate/);
    expect(refusal({ a: "\udc00x" }).message).toMatch(/unpaired UTF-16 surrogate/);
    expect(badText("\ud83d\ude00")).toBeUndefined();
  });

  it("refuses a non-finite number with BadRequest (107), as v1's decoder refuses 1e400", () => {
    const e = refusal({ limit: Number.POSITIVE_INFINITY });
    expect([e.code, e.status]).toEqual([107, 400]);
  });

  it("refuses nesting past the limit without recursing, at any depth", () => {
    let deep: unknown = 1;
    for (let i = 0; i < 200_000; i++) deep = [deep];
    expect(refusal({ v: deep }, 64).message).toMatch(/nests deeper than 64 levels/);
    expect(() => guardBody({ v: [[[1]]] }, 4)).not.toThrow();
    expect(refusal({ v: [[[[1]]]] }, 4).code).toBe(108);
  });
});

describe("nestingDepth", () => {
  it("counts levels and stops past the cap", () => {
    expect(nestingDepth(1, 5)).toBe(0);
    expect(nestingDepth({ a: [1, { b: 2 }] }, 5)).toBe(3);
    let deep: unknown = 1;
    for (let i = 0; i < 100_000; i++) deep = { a: deep };
    expect(nestingDepth(deep, 10)).toBe(11);
  });
});
