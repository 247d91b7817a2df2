// `skyflow runs list|show|retry`: what ran, how each step went (tries, durations, errors, trimmed outputs),
// and a retry of a failed run from the step that failed it.
import { loadConfig } from "../config.js";
import { poolDb } from "../db/pool.js";
import { getRun, listRuns, retryRun } from "../engine/store/inspect.js";
import { cancelAction } from "../http/actions.js";
import { silentLogger } from "../log.js";
import { defineCommand, intFlag, type ParsedArgs, UsageError } from "./args.js";
import { openForInspection } from "./inspect-db.js";
import { resolveRunId } from "./run-id.js";
import { formatRunList, formatRunTimeline } from "./runs-format.js";
import type { CommandIO } from "./types.js";

/** The statuses of skyflow.runs rows. */
export const RUN_STATUSES = [
  "pending",
  "running",
  "sleeping",
  "waiting",
  "succeeded",
  "failed",
  "cancelled",
] as const;

const ARGS = {
  options: {
    workflow: { type: "string" },
    status: { type: "string", choices: RUN_STATUSES },
    limit: { type: "string" },
    json: { type: "boolean" },
  },
  positionals: { min: 1, max: 2, names: ["subcommand", "run id"] },
} as const;

export const command = defineCommand({
  name: "runs",
  summary: "list runs, show a run's step timeline, retry a failed run, cancel a run that has not finished",
  usage: `skyflow runs list [--workflow NAME] [--status STATUS] [--limit N] [--json]
skyflow runs show <run id> [--json]
skyflow runs retry <run id>
skyflow runs cancel <run id>`,
  details: "A run id may be shortened to any prefix that only one run has (the log shows 8 characters).",
  args: ARGS,
  run,
});

async function run(io: CommandIO, { values, positionals }: ParsedArgs<typeof ARGS.options>): Promise<number> {
  const [sub, given] = positionals;
  if (sub !== "list" && sub !== "show" && sub !== "retry" && sub !== "cancel") {
    throw new UsageError(`unknown subcommand "${sub}"`);
  }
  if (sub === "list" && given !== undefined) throw new UsageError(`unexpected argument "${given}"`);
  if (sub !== "list" && given === undefined) throw new UsageError("missing <run id>");
  const limit = intFlag("limit", values.limit, 20, 1, 10_000);
  const db = await openForInspection(loadConfig(io.env), silentLogger());
  try {
    if (sub === "list") {
      const runs = await listRuns(db.pool, { workflow: values.workflow, status: values.status, limit });
      io.stdout.write(values.json ? `${JSON.stringify(runs, null, 2)}\n` : formatRunList(runs));
      return 0;
    }
    const id = await resolveRunId(db.pool, given!);
    if (typeof id !== "string") {
      io.stderr.write(`skyflow runs ${sub}: ${id.message}\n`);
      return 1;
    }
    if (sub === "show") {
      const details = await getRun(db.pool, id);
      if (!details) return notFound(io, id);
      io.stdout.write(values.json ? `${JSON.stringify(details, null, 2)}\n` : formatRunTimeline(details));
      return 0;
    }
    if (sub === "cancel") {
      // A run an engine executes is flagged; that engine (its CancelWatcher) ends it within a second.
      const r = await cancelAction(db.pool, undefined, id, "skyflow runs cancel");
      await db.pool.query("NOTIFY skyflow_runs");
      if (!r.ok) {
        io.stderr.write(`skyflow runs cancel: run ${id}: ${r.message}\n`);
        return 1;
      }
      io.stdout.write(`run ${id}: ${r.message}\n`);
      return 0;
    }
    if (!(await retryRun(poolDb(db.pool), id))) {
      io.stderr.write(
        `skyflow runs retry: run ${id} has not failed; only failed or cancelled runs can be retried\n`,
      );
      return 1;
    }
    await db.pool.query("NOTIFY skyflow_runs");
    io.stdout.write(
      `run ${id} queued again from its failed step; a running engine (skyflow dev or start) picks it up\n`,
    );
    return 0;
  } finally {
    await db.close();
  }
}

function notFound(io: CommandIO, id: string): number {
  io.stderr.write(`skyflow runs show: no run ${id}; \`skyflow runs list\` shows the recent ones\n`);
  return 1;
}
