// Text for `skyflow runs`: a run table and one run's step timeline (tries, durations, errors, outputs
// trimmed to one line). No I/O.
import { actedAs } from "../engine/definition/identity.js";
import type { RunRecord, StepTryRecord } from "../engine/store/inspect.js";
import { type StepNode, stepTree } from "../engine/store/step-tree.js";

const OUTPUT_CHARS = 160;

export function formatRunList(runs: RunRecord[]): string {
  if (runs.length === 0) return "no runs\n";
  const rows = runs.map((r) => [
    r.id,
    r.workflow,
    r.status,
    r.createdAt.toISOString(),
    duration(r.startedAt, r.finishedAt),
    r.error ? `${r.error.step}: ${r.error.name}: ${oneLine(r.error.message, 60)}` : "",
  ]);
  return table(["ID", "WORKFLOW", "STATUS", "CREATED", "TOOK", "ERROR"], rows);
}

export function formatRunTimeline(run: RunRecord & { tries: StepTryRecord[] }): string {
  const lines = [
    `run ${run.id}`,
    `  workflow  ${run.workflow} (version ${run.version.slice(0, 12)})`,
    `  status    ${run.status}${run.attempt > 1 ? ` (run attempt ${run.attempt})` : ""}`,
    `  event     ${String(run.event.type ?? "")} ${run.eventId}`,
    `  created   ${run.createdAt.toISOString()}  took ${duration(run.startedAt, run.finishedAt)}`,
  ];
  if (run.error) lines.push(`  error     step ${run.error.step}: ${run.error.name}: ${run.error.message}`);
  if (run.parentId) lines.push(`  parent    ${run.parentId} (called it)`);
  // A run parked inside a foreach or parallel waits in each of its inner steps listed.
  for (const w of run.wait?.inner ?? (run.wait ? [run.wait] : [])) lines.push(`  waits     ${waitText(w)}`);
  const out = runOutput(run);
  if (out !== undefined) lines.push(`  output    ${oneLine(JSON.stringify(out), OUTPUT_CHARS)}`);
  lines.push("", "steps:");
  if (run.tries.length === 0) lines.push("  (no step has started)");
  // A foreach's items and a parallel's branches are indented under it, each with its inner steps' tries.
  const walk = (nodes: StepNode<StepTryRecord>[], pad: string): void => {
    for (const n of nodes) {
      if (n.kind !== "step")
        lines.push(`${pad}${n.kind === "item" ? `item ${n.label}` : `branch ${n.label}`}`);
      for (const t of n.tries) tryLines(t, n.label, pad);
      walk(n.children, `${pad}  `);
    }
  };
  const tryLines = (t: StepTryRecord, label: string, pad: string) => {
    const again = t.runAttempt > 1 ? ` (run attempt ${t.runAttempt})` : "";
    lines.push(
      `${pad}${label} (${t.kind}) try ${t.attempt}${again}: ${t.status} ${t.finishedAt ? `in ${duration(t.startedAt, t.finishedAt)}` : `since ${t.startedAt.toISOString()}`}`,
    );
    const as = actedAs(t.kind, t.input);
    if (as) lines.push(`${pad}    as     ${as}`);
    if (t.error) lines.push(`${pad}    error  ${t.error.name}: ${t.error.message}`);
    if (t.output !== null && t.output !== undefined) {
      lines.push(`${pad}    output ${oneLine(JSON.stringify(t.output), OUTPUT_CHARS)}`);
    }
  };
  walk(stepTree(run.tries), "  ");
  return `${lines.join("\n")}\n`;
}

/** What a succeeded run returns: its top-level `output`, else its last step's output (see state.ts). */
export function runOutput(run: RunRecord & { tries: StepTryRecord[] }): unknown {
  if (run.status !== "succeeded") return undefined;
  const snap = run.snapshot as { output?: unknown; returnsStep?: string } | null;
  if (snap && "output" in snap) return snap.output;
  const key = snap?.returnsStep;
  const last = run.tries.filter((t) => t.status === "succeeded" && (key ? t.stepKey === key : true)).at(-1);
  return last?.output;
}

/** `sleep until ...`, `wait_for record:approval until ...`, `call child <id>`. */
function waitText(w: Omit<NonNullable<RunRecord["wait"]>, "inner">): string {
  const what =
    w.kind === "sleep"
      ? "sleep"
      : w.kind === "wait_for"
        ? `wait_for ${w.source ?? ""}`
        : `call run ${w.child ?? ""}`;
  return `step ${w.step}: ${what}${w.until ? ` until ${w.until}` : ""} (since ${w.began})`;
}

function duration(from: Date | null, to: Date | null): string {
  if (!from) return "-";
  if (!to) return "running";
  const ms = to.getTime() - from.getTime();
  return ms < 1000 ? `${ms}ms` : `${(ms / 1000).toFixed(2)}s`;
}

function oneLine(s: string, max: number): string {
  const flat = s.replace(/\s+/g, " ");
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const fmt = (r: string[]) =>
    r
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join("  ")
      .trimEnd();
  return `${[fmt(head), ...rows.map(fmt)].join("\n")}\n`;
}

export { table };
