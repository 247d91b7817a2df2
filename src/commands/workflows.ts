// `skyflow workflows list [dir]`: every workflow file with its status (enabled, disabled, paused, broken),
// version, triggers (cron's next fire) and last run; broken files with their problems.
import { parseArgs } from "node:util";
import { loadConfig } from "../config.js";
import { loadOneFile } from "../daemon-adapters.js";
import { LiveCatalog } from "../engine/catalog.js";
import { listWorkflowFiles } from "../engine/reload.js";
import { pausedWorkflows } from "../engine/workflow-state.js";
import { workflowRows } from "../http/overview.js";
import { silentLogger } from "../log.js";
import { openForInspection } from "./inspect-db.js";
import { table } from "./runs-format.js";
import type { Command, CommandIO } from "./types.js";

const USAGE = "usage: skyflow workflows list [dir] [--json]";

export const command: Command = {
  name: "workflows",
  summary: "list workflows with status, version, triggers and last run",
  usage: USAGE,
  run,
};

async function run(io: CommandIO): Promise<number> {
  let values: { json?: boolean };
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: io.argv,
      options: { json: { type: "boolean" } },
      allowPositionals: true,
      strict: true,
    }));
  } catch (err) {
    io.stderr.write(`skyflow workflows: ${(err as Error).message}\n${USAGE}\n`);
    return 2;
  }
  const [sub, dir] = positionals;
  if (sub !== "list") {
    io.stderr.write(`${USAGE}\n`);
    return 2;
  }
  const config = loadConfig(io.env, { dir });
  const catalog = new LiveCatalog();
  const files = await listWorkflowFiles(config.workflowsDir);
  catalog.replaceAll(await Promise.all(files.map((f) => loadOneFile(f))));
  const db = await openForInspection(config, silentLogger());
  try {
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
