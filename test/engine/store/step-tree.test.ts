// The tree of a run's steps from its tries' instance keys: items and branches under their container.
import { describe, expect, it } from "vitest";
import { keySegments, stepTree } from "../../../src/engine/store/step-tree.js";

describe("step tree", () => {
  it("reads items, branches and unnamed steps from instance keys", () => {
    expect(keySegments("remind[3].tell")).toEqual([
      { kind: "step", label: "remind" },
      { kind: "item", label: "[3]" },
      { kind: "step", label: "tell" },
    ]);
    expect(keySegments("fan.audit.steps[0]")).toEqual([
      { kind: "step", label: "fan" },
      { kind: "branch", label: "audit" },
      { kind: "step", label: "steps[0]" },
    ]);
    expect(keySegments("steps[1][0].x")).toEqual([
      { kind: "step", label: "steps[1]" },
      { kind: "item", label: "[0]" },
      { kind: "step", label: "x" },
    ]);
  });

  it("nests the tries under their container, items in index order", () => {
    const tree = stepTree(
      ["q", "each", "each[10].a", "each[2].a", "each[2].b", "fan", "fan.l.x", "fan.r.y"].map((stepKey) => ({
        stepKey,
      })),
    );
    const shape = (ns: ReturnType<typeof stepTree>): unknown =>
      ns.map((n) => (n.children.length ? { [n.label]: shape(n.children) } : n.label));
    expect(shape(tree)).toEqual([
      "q",
      { each: [{ "[2]": ["a", "b"] }, { "[10]": ["a"] }] },
      { fan: [{ l: ["x"] }, { r: ["y"] }] },
    ]);
    expect(tree[1]!.children[0]!.children[1]!.key).toBe("each[2].b");
  });
});
