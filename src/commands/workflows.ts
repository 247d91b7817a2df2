// `skyflow workflows list [dir]`: every workflow file with its status (enabled, disabled, paused, broken),
// version, triggers (cron's next fire) and last run; broken files with their problems.

import type pg from "pg";
import { loadConfig } from "../config.js";
import { loadOneFile } from "../daemon-adapters.js";
import { type FileResult, LiveCatalog } from "../engine/catalog.js";
import { loadWorkflowSource } from "../engine/definition/load.js";
import { listWorkflowFiles } from "../engine/reload.js";
import { pausedWorkflows } from "../engine/workflow-state.js";
import { workflowRows } from "../http/overview.js";
import { silentLogger } from "../log.js";
import { defineCommand, type ParsedArgs, UsageError } from "./args.js";
import { openForInspection } from "./inspect-db.js";
import { table } from "./runs-format.js";
import type { CommandIO } from "./types.js";

export const command = defineCommand({
  name: "workflows",
  summary: "list workflows with status, version, triggers and last run",
  usage: "skyflow workflows list [dir] [--json]",
  args: { options: { json: { type: "boolean" } }, positionals: { min: 1, max: 2, names: ["subcommand"] } },
  run,
});

async function run(
  io: CommandIO,
  { values, positionals }: ParsedArgs<{ json: { type: "boolean" } }>,
): Promise<number> {
  const [sub, dir] = positionals;
  if (sub !== "list") throw new UsageError(`unknown subcommand "${sub}"`);
  const config = loadConfig(io.env, { dir });
  const catalog = new LiveCatalog();
  const files = await listWorkflowFiles(config.workflowsDir);
  const results = await Promise.all(files.map((f) => loadOneFile(f)));
  const db = await openForInspection(config, silentLogger());
  try {
    // A running daemon keeps a broken file's last good version live: list it as the daemon has it.
    catalog.replaceAll(await lastGoodVersions(db.pool, results));
    catalog.apply(results);
    catalog.setPaused(await pausedWorkflows(db.pool));
    const rows = await workflowRows(db.pool, catalog);
    if (values.json) {
      io.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
      return 0;
    }
    if (rows.length === 0) {
      io.stdout.write(`no workflow files in ${config.workflowsDir}\n`);
      return 0;
    }
    const cells = rows.map((r) => [
      r.name,
      r.status,
      r.version,
      r.triggers.join("; "),
      r.lastRun ? `${r.lastRun.status} ${r.lastRun.at}` : "never",
    ]);
    io.stdout.write(table(["NAME", "STATUS", "VERSION", "TRIGGERS", "LAST RUN"], cells));
    for (const r of rows) for (const p of r.problems) io.stdout.write(`${p}\n`);
    return 0;
  } finally {
    await db.close();
  }
}

/**
 * For each broken file, the newest version stored from that file (runs store the version they start on),
 * compiled: the version a daemon that loaded the file before it broke still runs.
 */
async function lastGoodVersions(pool: pg.Pool, results: FileResult[]): Promise<FileResult[]> {
  const broken = results.filter((r) => !r.workflow).map((r) => r.file);
  if (broken.length === 0) return [];
  const { rows } = await pool.query<{ file: string; source: string }>(
    `SELECT DISTINCT ON (file) file, source FROM skyflow.workflow_versions
     WHERE file = ANY($1::text[]) ORDER BY file, created_at DESC`,
    [broken],
  );
  return rows.flatMap((row) => {
    const r = loadWorkflowSource(row.file, row.source);
    return r.problems.length === 0 && r.workflow
      ? [{ file: row.file, workflow: r.workflow, problems: [] }]
      : [];
  });
}
