// A run's tries as the tree of its steps: a foreach's items and a parallel's branches under it, each with
// its inner steps' tries. Instance keys (src/engine/tree.ts) say where each try belongs: `remind[3].tell` is
// step tell of item 3 of remind, `fan.audit.log` step log of branch audit of fan. No I/O.

export interface StepNode<T> {
  /** The step's key within its list (`tell`, `steps[0]`), or for an item `[3]`, for a branch its name. */
  label: string;
  kind: "step" | "item" | "branch";
  /** A step's full instance key. */
  key?: string;
  tries: T[];
  children: StepNode<T>[];
}

type Segment = { kind: "step" | "item" | "branch"; label: string };

/** `remind[3].tell` -> step remind, item [3], step tell; `fan.audit.log` -> step fan, branch audit, step log. */
export function keySegments(key: string): Segment[] {
  const out: Segment[] = [];
  const tokens = key.split(".");
  let branchNext = false;
  for (const token of tokens) {
    if (branchNext) {
      out.push({ kind: "branch", label: token });
      branchNext = false;
      continue;
    }
    // An unnamed step is `steps[<i>]` / `on_failure[<i>]`; brackets after a step are its items.
    const m = /^((?:steps|on_failure)\[\d+\]|[^[]+)((?:\[\d+\])*)$/.exec(token);
    if (!m) return [{ kind: "step", label: key }];
    out.push({ kind: "step", label: m[1]! });
    const items = m[2]!.match(/\[\d+\]/g) ?? [];
    for (const i of items) out.push({ kind: "item", label: i });
    // A step followed by more tokens and no item is a parallel: the next token names a branch.
    branchNext = items.length === 0;
  }
  return out;
}

/** The tries (in the order given) as a tree; a try's node is found by its step key. */
export function stepTree<T extends { stepKey: string }>(tries: T[]): StepNode<T>[] {
  const root: StepNode<T> = { label: "", kind: "step", tries: [], children: [] };
  for (const t of tries) {
    let node = root;
    const segs = keySegments(t.stepKey);
    for (const s of segs) {
      let next = node.children.find((c) => c.kind === s.kind && c.label === s.label);
      if (!next) {
        next = { label: s.label, kind: s.kind, tries: [], children: [] };
        node.children.push(next);
      }
      node = next;
    }
    node.key = t.stepKey;
    node.tries.push(t);
  }
  sortItems(root);
  return root.children;
}

function sortItems<T>(n: StepNode<T>): void {
  if (n.children.every((c) => c.kind === "item")) {
    n.children.sort((a, b) => Number(a.label.slice(1, -1)) - Number(b.label.slice(1, -1)));
  }
  for (const c of n.children) sortItems(c);
}
