import { describe, expect, it } from "vitest";
import { toPredicate, toSort } from "../../src/steps/predicate.js";

const kp = (k: string) => ({ $type: "keypath", $val: k });

describe("where and sort short forms", () => {
  it("turns plain values into eq and combines several keys with and", () => {
    expect(toPredicate({ status: "open" })).toEqual(["eq", kp("status"), "open"]);
    expect(toPredicate({ status: "open", priority: { gte: 3, lt: 9 } })).toEqual([
      "and",
      ["eq", kp("status"), "open"],
      ["gte", kp("priority"), 3],
      ["lt", kp("priority"), 9],
    ]);
  });

  it("nests or and not, keeps typed values as values and passes raw arrays through", () => {
    const ref = { $type: "ref", $id: "user/a" };
    expect(toPredicate({ or: [{ a: 1 }, { b: { in: [1, 2] } }], not: { owner: ref } })).toEqual([
      "and",
      ["or", ["eq", kp("a"), 1], ["in", kp("b"), [1, 2]]],
      ["not", ["eq", kp("owner"), ref]],
    ]);
    const raw = ["like", kp("title"), "a%"];
    expect(toPredicate(raw)).toBe(raw);
    expect(toPredicate(undefined)).toBeUndefined();
  });

  it("sorts with '-' as descending", () => {
    expect(toSort(["-_created_at", "title"])).toEqual([
      [kp("_created_at"), "desc"],
      [kp("title"), "asc"],
    ]);
  });
});
