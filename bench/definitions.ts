// Workflow definitions: load time of a 200-step workflow and of a directory of 1,000 workflows, evaluations
// per second of a compiled expression, and the CEL library comparison (@marcbachmann/cel-js vs @bufbuild/cel)
// on conformance-style cases and speed. Run: npx tsx bench/definitions.ts. Prints medians.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  parse as bufParse,
  plan as bufPlan,
  run as bufRun,
  celEnv,
  isCelList,
  isCelMap,
} from "@bufbuild/cel";
import { celEnvironment } from "../src/engine/definition/cel.js";
import { compileExpression } from "../src/engine/definition/expressions.js";
import { loadWorkflowDir, loadWorkflowSource } from "../src/engine/definition/load.js";
import type { ExprContext } from "../src/engine/definition/types.js";
import { median } from "./lib.js";

/** Wall-clock and CPU milliseconds of each run: the machine is shared, so CPU time is the steadier figure. */
async function timeMs(runs: number, fn: () => unknown): Promise<{ wall: number[]; cpu: number[] }> {
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < runs; i++) {
    const c = process.cpuUsage();
    const t = performance.now();
    await fn();
    wall.push(performance.now() - t);
    const d = process.cpuUsage(c);
    cpu.push((d.user + d.system) / 1000);
  }
  return { wall, cpu };
}

/** One step of four shapes; `k` (the workflow number) makes half of the expressions unique to the workflow. */
function step(i: number, k: number): string {
  switch (i % 4) {
    case 0:
      return `  - id: q${i}\n    query:\n      type: task\n      where: { status: open, owner: "\${{ event.record._ownerID }}" }\n      limit: \${{ int(event.record.n) + ${k} }}\n`;
    case 1:
      return `  - id: s${i}\n    if: \${{ size(steps.q${i - 1}.output.records) > 0 }}\n    save:\n      record: { _id: "note/\${{ uuid() }}", text: "n=\${{ event.record.n }}" }\n    retry: { attempts: 5, delay: 2s }\n`;
    case 2:
      return `  - sql:\n      statement: UPDATE counters SET n = n + 1 WHERE name = $1\n      params: ["\${{ event.record_type }}"]\n    timeout: 5s\n`;
    default:
      return `  - publish:\n      channel: events\n      data: { id: "\${{ event.record._id }}", ok: "\${{ steps.s${i - 2}.status == 'succeeded-${k}' }}" }\n`;
  }
}

function workflowText(name: string, steps: number, k = 0): string {
  const body = Array.from({ length: steps }, (_, i) => step(i, k)).join("");
  return `name: ${name}\non:\n  record:\n    type: task\n    when: \${{ event.record.status == 'open-${k}' }}\nsteps:\n${body}`;
}

async function benchLoading(): Promise<void> {
  const big = workflowText("big", 200);
  for (let i = 0; i < 3; i++) loadWorkflowSource("big.yaml", big);
  const one = await timeMs(9, () => {
    const r = loadWorkflowSource("big.yaml", big);
    if (r.problems.length) throw new Error(r.problems[0]!.message);
  });
  console.log(
    `200-step workflow (${big.length} bytes): median ${median(one.wall).toFixed(1)} ms wall, ${median(one.cpu).toFixed(1)} ms CPU`,
  );
  const dir = await mkdtemp(join(tmpdir(), "skyflow-bench-"));
  try {
    await Promise.all(
      Array.from({ length: 1000 }, (_, i) =>
        writeFile(join(dir, `wf-${i}.yaml`), workflowText(`wf-${i}`, 8, i)),
      ),
    );
    const runs = await timeMs(5, async () => {
      const r = await loadWorkflowDir(dir);
      if (r.problems.length || r.workflows.length !== 1000) throw new Error("directory did not load cleanly");
    });
    console.log(
      `1,000 workflows of 8 steps: first ${runs.wall[0]!.toFixed(0)} ms, median ${median(runs.wall).toFixed(0)} ms wall, ` +
        `${median(runs.cpu).toFixed(0)} ms CPU (target < 2000 ms)`,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const CTX = {
  event: {
    id: "e",
    type: "record" as const,
    at: "2026-01-01T00:00:00Z",
    data: { total: 150, items: [1, 2, 3] },
    record: { status: "open", reviewer: { $type: "ref", $id: "u1" }, parent: null },
  },
};

function rate(fn: () => unknown, n = 200_000): number {
  for (let i = 0; i < 20_000; i++) fn();
  const rounds: number[] = [];
  for (let r = 0; r < 5; r++) {
    const t = performance.now();
    for (let i = 0; i < n; i++) fn();
    rounds.push(n / ((performance.now() - t) / 1000));
  }
  return median(rounds);
}

function benchEvaluation(): void {
  const src = "event.record.status == 'open' && event.data.total > 100.0";
  const ctx: ExprContext = {
    ...CTX,
    steps: {},
    run: { id: "r", workflow: "w", attempt: 1, started_at: "" },
    env: {},
    now: new Date(),
    uuidSeed: "r/s",
  };
  const expr = compileExpression(src, { file: "bench.yaml", line: 1, column: 1 });
  const marc = celEnvironment().parse(src);
  const buf = bufPlan(celEnv(), bufParse(src));
  const ours = rate(() => expr.evaluate(ctx));
  const m = rate(() => marc(ctx));
  const b = rate(() => buf(CTX));
  console.log(`compiled \`${src}\` through Expr.evaluate: ${fmt(ours)} evals/s (target >= 200,000)`);
  console.log(
    `  same expression, bare @marcbachmann/cel-js: ${fmt(m)}/s; bare @bufbuild/cel: ${fmt(b)}/s (ratio ${(m / b).toFixed(1)}x)`,
  );
}

const fmt = (n: number) => Math.round(n).toLocaleString("en-US");
const ERR = Symbol("error");

/** Conformance-style cases that apply to skyflow: [expression, expected JSON value or ERR]. */
const CASES: [string, unknown][] = [
  ["1 + 2 * 3", 7],
  ["7 / 2", 3],
  ["7 % 3", 1],
  ["7.0 / 2.0", 3.5],
  ["-(3) + 1", -2],
  ["event.data.total + 1.0", 151],
  ["event.data.total + 1", ERR],
  ["int(event.data.total) + 1", 151],
  ["9223372036854775807 + 1", ERR],
  ["1 / 0", ERR],
  ["1 == 1.0", true],
  ["event.data.total == 150", true],
  ['"abc" + "def"', "abcdef"],
  ['"hello".startsWith("he")', true],
  ['"hello".contains("ell")', true],
  ['size("héllo")', 5],
  ['"abc".matches("^a.c$")', true],
  ["string(1.5)", "1.5"],
  ['int("42")', 42],
  ["[1, 2, 3][1]", 2],
  ["size(event.data.items)", 3],
  ["2.0 in event.data.items", true],
  ["[1, 2] + [3]", [1, 2, 3]],
  ["event.data.items[5]", ERR],
  ['{"a": 1}["a"]', 1],
  ['"a" in {"a": 1}', true],
  ['event.record.reviewer["$id"]', "u1"],
  ["event.record.nope", ERR],
  ["event.data.items.map(i, i * 2.0)", [2, 4, 6]],
  ["event.data.items.filter(i, i > 1.0)", [2, 3]],
  ["event.data.items.exists(i, i == 2.0)", true],
  ["event.data.items.all(i, i > 0.0)", true],
  ["[1, 2, 3].exists_one(i, i == 2)", true],
  ["has(event.record.status)", true],
  ["has(event.record.nope)", false],
  ['event.record.status == "open" ? "y" : "n"', "y"],
  ["false && (1 / 0 == 1)", false],
  ["true || event.record.nope", true],
  ["event.record.parent == null", true],
  ["event.record.parent.name", ERR],
  ['timestamp("2020-01-01T00:00:00Z") + duration("1h") == timestamp("2020-01-01T01:00:00Z")', true],
  ['timestamp("2020-01-01T00:00:00Z").getFullYear()', 2020],
  ['duration("90m") > duration("1h")', true],
  ['string(timestamp("2020-01-01T00:00:00Z"))', "2020-01-01T00:00:00Z"],
  ["type(1) == int", true],
  ["dyn(1) + 2", 3],
];

function norm(v: unknown): unknown {
  if (typeof v === "bigint") return Number(v);
  if (v instanceof Date) return v.toISOString();
  if (isCelList(v)) return [...v].map(norm);
  if (isCelMap(v)) return Object.fromEntries([...v].map(([k, x]) => [String(k), norm(x)]));
  if (Array.isArray(v)) return v.map(norm);
  if (v && typeof v === "object" && v.constructor === Object) {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, norm(x)]));
  }
  return v;
}

function outcome(fn: () => unknown): unknown {
  try {
    const v = fn();
    return v instanceof Error ? ERR : norm(v);
  } catch {
    return ERR;
  }
}

function benchConformance(): void {
  const env = celEnvironment();
  const fails: Record<string, string[]> = { marc: [], buf: [] };
  for (const [src, want] of CASES) {
    const got = { marc: outcome(() => env.evaluate(src, CTX)), buf: outcome(() => bufRun(src, CTX)) };
    for (const lib of ["marc", "buf"] as const) {
      if (JSON.stringify(got[lib]) !== JSON.stringify(want) || (got[lib] === ERR) !== (want === ERR))
        fails[lib]!.push(src);
    }
  }
  const n = CASES.length;
  console.log(
    `conformance-style cases (${n}): @marcbachmann/cel-js ${n - fails.marc!.length}/${n}, @bufbuild/cel ${n - fails.buf!.length}/${n}`,
  );
  console.log(`  @marcbachmann/cel-js fails: ${fails.marc!.join(" | ") || "none"}`);
  console.log(`  @bufbuild/cel fails: ${fails.buf!.join(" | ") || "none"}`);
}

async function main(): Promise<void> {
  benchConformance();
  benchEvaluation();
  await benchLoading();
}

await main();
