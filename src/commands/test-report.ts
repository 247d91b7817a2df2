// What `skyflow test` prints: readable lines with each failure as `file:line:column: message`, or JUnit XML
// or TAP for CI. No I/O: each function returns text.
import type { Problem } from "../errors.js";
import { formatProblem } from "../errors.js";

export interface TestOutcome {
  file: string;
  name: string;
  line: number;
  column: number;
  ms: number;
  failures: { line: number; column: number; message: string }[];
  /** The test's database, when kept (--keep-db). */
  database?: string;
}

export interface Report {
  outcomes: TestOutcome[];
  /** Broken test files and workflows: nothing of theirs ran. */
  broken: Problem[];
  ms: number;
}

const located = (file: string, f: { line: number; column: number; message: string }) =>
  `${file}:${f.line}:${f.column}: ${f.message}`;

export function summaryLine(r: Report): string {
  const failed = r.outcomes.filter((o) => o.failures.length > 0).length;
  const passed = r.outcomes.length - failed;
  const broken = new Set(r.broken.map((p) => p.file)).size;
  const parts = [`${passed} passed`, `${failed} failed`];
  if (broken > 0) parts.push(`${broken} broken file${broken === 1 ? "" : "s"}`);
  return `${parts.join(", ")} (${(r.ms / 1000).toFixed(1)} s)`;
}

export function humanReport(r: Report): string {
  const lines: string[] = [];
  let file = "";
  for (const o of r.outcomes) {
    if (o.file !== file) {
      file = o.file;
      lines.push(file);
    }
    const mark = o.failures.length === 0 ? "ok  " : "FAIL";
    lines.push(`  ${mark} ${o.name} (${o.ms} ms)${o.database ? ` [database ${o.database}]` : ""}`);
    for (const f of o.failures) lines.push(`       ${located(o.file, f)}`);
  }
  if (r.broken.length > 0) {
    lines.push("broken:");
    for (const p of r.broken) lines.push(`  ${formatProblem(p)}`);
  }
  lines.push(summaryLine(r));
  return `${lines.join("\n")}\n`;
}

export function tapReport(r: Report): string {
  const lines = ["TAP version 13", `1..${r.outcomes.length + (r.broken.length > 0 ? 1 : 0)}`];
  r.outcomes.forEach((o, i) => {
    const title = `${o.file} > ${o.name}`.replace(/#/g, "\\#");
    lines.push(`${o.failures.length === 0 ? "ok" : "not ok"} ${i + 1} - ${title}`);
    if (o.failures.length > 0) {
      lines.push("  ---", "  failures:");
      for (const f of o.failures) lines.push(`    - ${JSON.stringify(located(o.file, f))}`);
      lines.push(`  at: ${JSON.stringify(`${o.file}:${o.line}:${o.column}`)}`, "  ...");
    }
  });
  if (r.broken.length > 0) {
    lines.push(`not ok ${r.outcomes.length + 1} - broken test files`, "  ---", "  problems:");
    for (const p of r.broken) lines.push(`    - ${JSON.stringify(formatProblem(p))}`);
    lines.push("  ...");
  }
  lines.push(`# ${summaryLine(r)}`);
  return `${lines.join("\n")}\n`;
}

const xml = (s: string) =>
  s.replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&apos;" })[c]!,
  );

export function junitReport(r: Report): string {
  const files = [...new Set([...r.outcomes.map((o) => o.file), ...r.broken.map((p) => p.file)])];
  const failed = r.outcomes.filter((o) => o.failures.length > 0).length;
  const out = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="skyflow test" tests="${r.outcomes.length}" failures="${failed}" errors="${r.broken.length > 0 ? 1 : 0}" time="${(r.ms / 1000).toFixed(3)}">`,
  ];
  for (const file of files) {
    const cases = r.outcomes.filter((o) => o.file === file);
    const problems = r.broken.filter((p) => p.file === file);
    const time = cases.reduce((a, o) => a + o.ms, 0) / 1000;
    const fails = cases.filter((o) => o.failures.length > 0).length;
    out.push(
      `  <testsuite name="${xml(file)}" tests="${cases.length}" failures="${fails}" errors="${problems.length > 0 ? 1 : 0}" time="${time.toFixed(3)}">`,
    );
    for (const o of cases) {
      out.push(
        `    <testcase classname="${xml(file)}" name="${xml(o.name)}" file="${xml(file)}" line="${o.line}" time="${(o.ms / 1000).toFixed(3)}">`,
      );
      for (const f of o.failures) {
        out.push(`      <failure message="${xml(f.message)}">${xml(located(file, f))}</failure>`);
      }
      out.push("    </testcase>");
    }
    if (problems.length > 0) {
      const text = problems.map(formatProblem).join("\n");
      out.push(`    <testcase classname="${xml(file)}" name="(test file)" file="${xml(file)}">`);
      out.push(`      <error message="broken test file">${xml(text)}</error>`, "    </testcase>");
    }
    out.push("  </testsuite>");
  }
  out.push("</testsuites>");
  return `${out.join("\n")}\n`;
}
