// Shared by `pause` and `resume`: one row in skyflow.workflow_state. A name that no file in the workflows
// directory defines is refused, so a typo does not silently pause nothing.
import { loadConfig } from "../config.js";
import { loadOneFile } from "../daemon-adapters.js";
import { listWorkflowFiles } from "../engine/reload.js";
import { setPaused } from "../engine/workflow-state.js";
import { silentLogger } from "../log.js";
import type { ParsedArgs } from "./args.js";
import { openForInspection } from "./inspect-db.js";
import type { CommandIO } from "./types.js";

export const PAUSE_ARGS = {
  options: { dir: { type: "string" } },
  positionals: { min: 1, max: 1, names: ["workflow"] },
} as const;

export async function pauseOrResume(
  io: CommandIO,
  { values, positionals }: ParsedArgs<typeof PAUSE_ARGS.options>,
  paused: boolean,
): Promise<number> {
  const verb = paused ? "pause" : "resume";
  const name = positionals[0]!;
  const config = loadConfig(io.env, { dir: values.dir });
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
