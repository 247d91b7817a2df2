// A run's timeline as rows: one per step key path (`notify`, `remind[3].tell`, `fan.audit.log`), nested under
// their parents (a group row is made for a parent with no tries of its own), each with its tries placed by
// start offset and duration within the run's window. Generic over key paths, so foreach items, parallel
// branches and anything later nest without knowing the step kinds. No I/O, no DOM.

export interface TryLike {
  stepKey: string;
  kind: string;
  attempt: number;
  runAttempt: number;
  status: string;
  startedAt: string;
  finishedAt: string | null;
}

export interface Row<T extends TryLike = TryLike> {
  key: string;
  /** The last segment: a step id, a branch name or an item `[3]`. */
  label: string;
  depth: number;
  tries: T[];
  /** True for a parent without tries of its own (a foreach item, a parallel branch). */
  group: boolean;
  /** Start and end over its own tries and those of every row beneath it (ms since epoch). */
  start: number;
  end: number;
  status: string;
}

/** `remind[3].tell` -> ["remind", "[3]", "tell"]. */
export function parseKey(key: string): string[] {
  return key.match(/\[[^\]]*\]|[^.[\]]+/g) ?? [key];
}

function joinKey(parts: string[]): string {
  return parts.reduce((acc, p) => (p.startsWith("[") || acc === "" ? acc + p : `${acc}.${p}`), "");
}

interface Node<T extends TryLike> {
  key: string;
  label: string;
  tries: T[];
  children: Map<string, Node<T>>;
  start: number;
  end: number;
}

export function buildRows<T extends TryLike>(tries: T[], now: number): Row<T>[] {
  const root: Node<T> = {
    key: "",
    label: "",
    tries: [],
    children: new Map(),
    start: Infinity,
    end: -Infinity,
  };
  for (const t of tries) {
    const parts = parseKey(t.stepKey);
    let node = root;
    for (let i = 0; i < parts.length; i++) {
      const key = joinKey(parts.slice(0, i + 1));
      let next = node.children.get(key);
      if (!next) {
        next = { key, label: parts[i]!, tries: [], children: new Map(), start: Infinity, end: -Infinity };
        node.children.set(key, next);
      }
      node = next;
    }
    node.tries.push(t);
  }
  span(root, now);
  const rows: Row<T>[] = [];
  const walk = (node: Node<T>, depth: number) => {
    const kids = [...node.children.values()].sort(
      (a, b) => a.start - b.start || compareKeys(a.label, b.label),
    );
    for (const k of kids) {
      const own = [...k.tries].sort((a, b) => a.runAttempt - b.runAttempt || a.attempt - b.attempt);
      rows.push({
        key: k.key,
        label: k.label,
        depth,
        tries: own,
        group: own.length === 0,
        start: k.start,
        end: k.end,
        status: own.at(-1)?.status ?? groupStatus(k),
      });
      walk(k, depth + 1);
    }
  };
  walk(root, 0);
  return rows;
}

function span<T extends TryLike>(node: Node<T>, now: number): void {
  for (const t of node.tries) {
    const s = Date.parse(t.startedAt);
    const e = t.finishedAt ? Date.parse(t.finishedAt) : Math.max(now, s);
    node.start = Math.min(node.start, s);
    node.end = Math.max(node.end, e);
  }
  for (const c of node.children.values()) {
    span(c, now);
    node.start = Math.min(node.start, c.start);
    node.end = Math.max(node.end, c.end);
  }
}

/** A group is as bad as its worst child: failed, then running, then succeeded. */
function groupStatus<T extends TryLike>(node: Node<T>): string {
  const all: string[] = [];
  const collect = (n: Node<T>) => {
    const last = [...n.tries].sort((a, b) => a.runAttempt - b.runAttempt || a.attempt - b.attempt).at(-1);
    if (last) all.push(last.status);
    for (const c of n.children.values()) collect(c);
  };
  collect(node);
  for (const s of ["failed", "running", "waiting", "interrupted", "cancelled", "succeeded", "skipped"]) {
    if (all.includes(s)) return s;
  }
  return all[0] ?? "pending";
}

/** `[10]` after `[9]`: items compare by index, other labels as text. */
function compareKeys(a: string, b: string): number {
  const ia = /^\[(\d+)\]$/.exec(a);
  const ib = /^\[(\d+)\]$/.exec(b);
  if (ia && ib) return Number(ia[1]) - Number(ib[1]);
  return a.localeCompare(b);
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
