// A run's timeline as rows, from the tree of its steps that the runs API sends (src/engine/store/step-tree.ts:
// a foreach's items and a parallel's branches under it, each with its inner steps), one row per node with
// its depth, tries, status and span (its own tries and everything beneath it). A container with many items
// shows the first ones and every one that did not succeed; the rest are counted in a `more` row until
// expanded. No I/O, no DOM.

export interface TryLike {
  stepKey: string;
  kind: string;
  attempt: number;
  runAttempt: number;
  status: string;
  startedAt: string;
  finishedAt: string | null;
}

/** A node of the step tree as the API sends it. */
export interface NodeLike<T extends TryLike = TryLike> {
  label: string;
  kind: "step" | "item" | "branch";
  key?: string;
  tries: T[];
  children: NodeLike<T>[];
}

export interface Row<T extends TryLike = TryLike> {
  /** The step's instance key; for an item `remind[3]`, for a branch `fan.audit`. */
  key: string;
  /** A step's id, an item `[3]`, a branch's name. */
  label: string;
  kind: "step" | "item" | "branch" | "more";
  depth: number;
  tries: T[];
  /** True for a row without tries of its own (an item, a branch, the items not shown). */
  group: boolean;
  /** Start and end over its own tries and those of every row beneath it (ms since epoch). */
  start: number;
  end: number;
  status: string;
  /** A `more` row: how many items it stands for, and the container's key to expand. */
  hidden?: number;
  parent?: string;
}

/** Items shown per container before the rest are counted in a `more` row. */
export const ITEMS_SHOWN = 50;

interface Span {
  start: number;
  end: number;
  statuses: string[];
}

export function buildRows<T extends TryLike>(
  nodes: NodeLike<T>[],
  now: number,
  expanded: ReadonlySet<string> = new Set(),
): Row<T>[] {
  const rows: Row<T>[] = [];
  const walk = (list: NodeLike<T>[], parent: string, depth: number) => {
    const spans = list.map((n) => span(n, now));
    let shown = list.map((_, i) => i);
    if (list.length > ITEMS_SHOWN && list.every((n) => n.kind === "item") && !expanded.has(parent)) {
      shown = shown.filter((i) => i < ITEMS_SHOWN || worst(spans[i]!.statuses) !== "succeeded");
    }
    for (const i of shown) {
      const n = list[i]!;
      const sp = spans[i]!;
      const key = n.key ?? keyOf(parent, n);
      const own = [...n.tries].sort((a, b) => a.runAttempt - b.runAttempt || a.attempt - b.attempt);
      rows.push({
        key,
        label: n.label,
        kind: n.kind,
        depth,
        tries: own,
        group: own.length === 0,
        start: sp.start,
        end: sp.end,
        status: own.at(-1)?.status ?? worst(sp.statuses),
      });
      walk(n.children, key, depth + 1);
    }
    const hidden = list.length - shown.length;
    if (hidden > 0) {
      const rest = spans.filter((_, i) => !shown.includes(i));
      rows.push({
        key: `${parent}[…]`,
        label: `${hidden} more items`,
        kind: "more",
        depth,
        tries: [],
        group: true,
        start: Math.min(...rest.map((r) => r.start)),
        end: Math.max(...rest.map((r) => r.end)),
        status: worst(rest.flatMap((r) => r.statuses)),
        hidden,
        parent,
      });
    }
  };
  walk(nodes, "", 0);
  return rows;
}

function keyOf(parent: string, n: NodeLike): string {
  if (n.kind === "item") return parent + n.label;
  return parent ? `${parent}.${n.label}` : n.label;
}

/** A node's span over its own tries and its subtree's, and the last status of each step beneath it. */
function span<T extends TryLike>(n: NodeLike<T>, now: number): Span {
  const out: Span = { start: Infinity, end: -Infinity, statuses: [] };
  let last: T | undefined;
  for (const t of n.tries) {
    const s = Date.parse(t.startedAt);
    const e = t.finishedAt ? Date.parse(t.finishedAt) : Math.max(now, s);
    out.start = Math.min(out.start, s);
    out.end = Math.max(out.end, e);
    if (
      !last ||
      t.runAttempt > last.runAttempt ||
      (t.runAttempt === last.runAttempt && t.attempt > last.attempt)
    )
      last = t;
  }
  if (last) out.statuses.push(last.status);
  for (const c of n.children) {
    const cs = span(c, now);
    out.start = Math.min(out.start, cs.start);
    out.end = Math.max(out.end, cs.end);
    out.statuses.push(...cs.statuses);
  }
  return out;
}

/** A group is as bad as its worst step: failed, then running, then succeeded. */
function worst(all: string[]): string {
  for (const s of [
    "failed",
    "running",
    "waiting",
    "sleeping",
    "interrupted",
    "cancelled",
    "succeeded",
    "skipped",
  ]) {
    if (all.includes(s)) return s;
  }
  return all[0] ?? "pending";
}

/** Where a bar sits in the run's window, as percentages (a try too short to see still gets a sliver). */
export function place(
  start: number,
  end: number,
  window: { start: number; end: number },
): { left: number; width: number } {
  const total = Math.max(1, window.end - window.start);
  const left = ((start - window.start) / total) * 100;
  const width = ((end - start) / total) * 100;
  const l = Math.min(99.5, Math.max(0, left));
  return { left: l, width: Math.max(0.5, Math.min(100 - l, width)) };
}

/** The run's window: from its first try's start (or the run's) to the last end, or now while it runs. */
export function runWindow(rows: Row[], runStart: string | null, now: number): { start: number; end: number } {
  const starts = rows.map((r) => r.start).filter(Number.isFinite);
  const ends = rows.map((r) => r.end).filter(Number.isFinite);
  const start = Math.min(runStart ? Date.parse(runStart) : Infinity, ...starts);
  const end = Math.max(...ends, start + 1);
  return Number.isFinite(start) ? { start, end } : { start: now, end: now + 1 };
}
