// The fault suite's global setup: the usual test database template (test/helpers/global-setup.ts), plus a
// summary file that each scenario appends its figures to, printed as one summary at the end.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestProject } from "vitest/node";
import setupDatabase from "../helpers/global-setup.js";
import type { ScenarioSummary } from "./harness.js";

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const started = Date.now();
  const dir = mkdtempSync(join(tmpdir(), "skyflow-faults-summary-"));
  const file = join(dir, "summary.jsonl");
  // Set before the test workers start, which inherit it.
  process.env.SKYFLOW_FAULTS_SUMMARY = file;
  const teardown = await setupDatabase(project);
  return async () => {
    let lines: ScenarioSummary[] = [];
    try {
      lines = readFileSync(file, "utf8")
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l) as ScenarioSummary);
    } catch {}
    rmSync(dir, { recursive: true, force: true });
    process.stdout.write(`\n${summaryText(lines, (Date.now() - started) / 1000)}\n`);
    await teardown();
  };
}

export function summaryText(lines: ScenarioSummary[], seconds: number): string {
  const sum = (k: keyof ScenarioSummary) => lines.reduce((n, l) => n + Number(l[k] ?? 0), 0);
  const rows = lines.map(
    (l) =>
      `  ${l.scenario.padEnd(26)} runs ${String(l.runs).padStart(5)}  kills ${String(l.kills).padStart(3)}  ` +
      `restarts ${String(l.restarts).padStart(3)}  injected ${String(l.injected).padStart(5)}  ` +
      `lost ${l.lost}  duplicated ${l.duplicated}  ${l.seconds.toFixed(1)} s${l.note ? `  (${l.note})` : ""}`,
  );
  return [
    `fault suite: ${lines.length} scenario(s) in ${seconds.toFixed(1)} s`,
    ...rows,
    `  total: runs ${sum("runs")}, kills ${sum("kills")}, restarts ${sum("restarts")}, ` +
      `injected failures ${sum("injected")}, lost ${sum("lost")}, duplicated ${sum("duplicated")}`,
  ].join("\n");
}
