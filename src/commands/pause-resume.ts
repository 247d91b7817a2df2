// Shared by `pause` and `resume`: one row in skyflow.workflow_state. A name that no file in the workflows
// directory defines is refused, so a typo does not silently pause nothing.
import { loadConfig } from "../config.js";
import { loadOneFile } from "../daemon-adapters.js";
import { listWorkflowFiles } from "../engine/reload.js";
import { setPaused } from "../engine/workflow-state.js";
import { silentLogger } from "../log.js";
import { openForInspection } from "./inspect-db.js";
import type { CommandIO } from "./types.js";

export async function pauseOrResume(io: CommandIO, paused: boolean): Promise<number> {
  const verb = paused ? "pause" : "resume";
  const args = io.argv.filter((a) => !a.startsWith("--dir"));
  const dirFlag = io.argv.find((a) => a.startsWith("--dir="))?.slice(6);
  const [name, extra] = args;
  if (!name || extra !== undefined) {
    io.stderr.write(`usage: skyflow ${verb} <workflow> [--dir=DIR]\n`);
    return 2;
  }
  const config = loadConfig(io.env, { dir: dirFlag });
  const known = await knownNames(config.workflowsDir);
  if (!known.has(name)) {
    const list = [...known].sort().join(", ") || "none";
    io.stderr.write(
      `skyflow ${verb}: no workflow named "${name}" in ${config.workflowsDir} (found: ${list})\n`,
    );
    return 1;
  }
  const db = await openForInspection(config, silentLogger());
  try {
    await setPaused(db.pool, name, paused);
  } finally {
    await db.close();
  }
  io.stdout.write(
    paused
      ? `paused ${name}: its triggers start no new runs (running daemons notice within a second)\n`
      : `resumed ${name}: its triggers start runs again\n`,
  );
  return 0;
}

async function knownNames(dir: string): Promise<Set<string>> {
  const results = await Promise.all((await listWorkflowFiles(dir)).map((f) => loadOneFile(f)));
  return new Set(results.flatMap((r) => (r.workflow ? [r.workflow.name] : [])));
}
