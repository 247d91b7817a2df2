// The catalog of live versions: atomic swaps, last good version kept for broken files, paused and disabled
// workflows hidden from the triggers, renames without a gap. Pure: literal definitions, no I/O.
import { describe, expect, it } from "vitest";
import { LiveCatalog } from "../../src/engine/catalog.js";
import type { WorkflowDefinition } from "../../src/engine/definition/types.js";
import type { Problem } from "../../src/errors.js";

function def(name: string, file: string, version: string, enabled = true): WorkflowDefinition {
  return {
    name,
    file,
    version,
    enabled,
    source: "",
    triggers: [{ kind: "pubsub", channel: "c" }],
    steps: [],
    onFailure: [],
  };
}

const problem = (file: string): Problem => ({ file, line: 3, column: 5, path: "steps", message: "bad" });

describe("LiveCatalog", () => {
  it("adds, updates and removes workflows and reports each change", () => {
    const c = new LiveCatalog();
    expect(c.apply([{ file: "w/a.yaml", workflow: def("a", "w/a.yaml", "v1"), problems: [] }])).toMatchObject(
      {
        added: ["a"],
      },
    );
    const upd = c.apply([{ file: "w/a.yaml", workflow: def("a", "w/a.yaml", "v2"), problems: [] }]);
    expect(upd.updated).toEqual(["a"]);
    expect(c.get("a")?.version).toBe("v2");
    expect(c.apply([], ["w/a.yaml"]).removed).toEqual(["a"]);
    expect(c.get("a")).toBeUndefined();
  });

  it("keeps the last good version when a file breaks, and records its problems", () => {
    const c = new LiveCatalog();
    c.apply([{ file: "w/a.yaml", workflow: def("a", "w/a.yaml", "v1"), problems: [] }]);
    const change = c.apply([{ file: "w/a.yaml", problems: [problem("w/a.yaml")] }]);
    expect(change.broken).toEqual([{ file: "w/a.yaml", problems: [problem("w/a.yaml")], kept: "a" }]);
    expect(c.get("a")?.version).toBe("v1");
    expect(c.status("a")).toBe("broken");
    expect(c.problems().get("w/a.yaml")).toHaveLength(1);
    c.apply([{ file: "w/a.yaml", workflow: def("a", "w/a.yaml", "v3"), problems: [] }]);
    expect(c.status("a")).toBe("enabled");
    expect(c.problems().size).toBe(0);
  });

  it("swaps a rename (unlink + add in one batch) without the workflow ever missing", () => {
    const c = new LiveCatalog();
    c.apply([{ file: "w/a.yaml", workflow: def("a", "w/a.yaml", "v1"), problems: [] }]);
    const seen: (string | undefined)[] = [];
    c.subscribe(() => seen.push(c.get("a")?.file));
    const change = c.apply(
      [{ file: "w/b.yaml", workflow: def("a", "w/b.yaml", "v1"), problems: [] }],
      ["w/a.yaml"],
    );
    expect(seen).toEqual(["w/b.yaml"]);
    expect(change).toMatchObject({ added: [], removed: [], updated: ["a"] });
  });

  it("rejects a second file declaring a name another file owns, naming both files", () => {
    const c = new LiveCatalog();
    c.apply([{ file: "w/a.yaml", workflow: def("a", "w/a.yaml", "v1"), problems: [] }]);
    const change = c.apply([{ file: "w/b.yaml", workflow: def("a", "w/b.yaml", "v9"), problems: [] }]);
    expect(change.broken[0]?.problems[0]?.message).toContain("w/a.yaml");
    expect(c.get("a")?.file).toBe("w/a.yaml");
  });

  it("drops the old name when a file is edited to declare a new name", () => {
    const c = new LiveCatalog();
    c.apply([{ file: "w/a.yaml", workflow: def("a", "w/a.yaml", "v1"), problems: [] }]);
    const change = c.apply([{ file: "w/a.yaml", workflow: def("renamed", "w/a.yaml", "v2"), problems: [] }]);
    expect(change).toMatchObject({ added: ["renamed"], removed: ["a"] });
  });

  it("replaceAll removes workflows whose files are gone", () => {
    const c = new LiveCatalog();
    c.apply([
      { file: "w/a.yaml", workflow: def("a", "w/a.yaml", "v1"), problems: [] },
      { file: "w/b.yaml", workflow: def("b", "w/b.yaml", "v1"), problems: [] },
    ]);
    const change = c.replaceAll([{ file: "w/b.yaml", workflow: def("b", "w/b.yaml", "v1"), problems: [] }]);
    expect(change.removed).toEqual(["a"]);
    expect(c.list().map((d) => d.name)).toEqual(["b"]);
  });

  it("hides paused and disabled workflows from the triggers' view only", () => {
    const c = new LiveCatalog();
    c.apply([
      { file: "w/a.yaml", workflow: def("a", "w/a.yaml", "v1"), problems: [] },
      { file: "w/b.yaml", workflow: def("b", "w/b.yaml", "v1"), problems: [] },
      { file: "w/off.yaml", workflow: def("off", "w/off.yaml", "v1", false), problems: [] },
    ]);
    const view = c.triggerView();
    let notified = 0;
    view.subscribe(() => notified++);
    c.setPaused(["a"]);
    expect(notified).toBe(1);
    expect(view.list().map((d) => d.name)).toEqual(["b"]);
    expect(view.get("a")).toBeUndefined();
    expect(c.get("a")).toBeDefined();
    expect(c.status("a")).toBe("paused");
    expect(c.status("off")).toBe("disabled");
    c.setPaused(["a"]);
    expect(notified).toBe(1);
    c.setPaused([]);
    expect(view.get("a")?.name).toBe("a");
  });
});
