// `skyflow runs list|show|retry`: what ran, how each step went (tries, durations, errors, trimmed outputs),
// and a retry of a failed run from the step that failed it.
import { parseArgs } from "node:util";
import { loadConfig } from "../config.js";
import { getRun, listRuns, retryRun } from "../engine/store/inspect.js";
import { silentLogger } from "../log.js";
import { openForInspection } from "./inspect-db.js";
import { formatRunList, formatRunTimeline } from "./runs-format.js";
import type { Command, CommandIO } from "./types.js";

const USAGE = `usage: skyflow runs list [--workflow NAME] [--status STATUS] [--limit N] [--json]
       skyflow runs show <run id> [--json]
       skyflow runs retry <run id>`;

export const command: Command = {
  name: "runs",
  summary: "list runs, show a run's step timeline, retry a failed run from its failed step",
  usage: USAGE,
  run,
};

async function run(io: CommandIO): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(io.argv);
  } catch (err) {
    io.stderr.write(`skyflow runs: ${(err as Error).message}\n${USAGE}\n`);
    return 2;
  }
  const { values, positionals } = parsed;
  const [sub, id] = positionals;
  if (!sub || !["list", "show", "retry"].includes(sub) || (sub !== "list" && !id)) {
    io.stderr.write(`${USAGE}\n`);
    return 2;
  }
  const db = await openForInspection(loadConfig(io.env), silentLogger());
  try {
    if (sub === "list") {
      const limit = values.limit ? Number(values.limit) : 20;
      const runs = await listRuns(db.pool, { workflow: values.workflow, status: values.status, limit });
      io.stdout.write(values.json ? `${JSON.stringify(runs, null, 2)}\n` : formatRunList(runs));
      return 0;
    }
    if (sub === "show") {
      const details = await getRun(db.pool, id!);
      if (!details) return notFound(io, id!);
      io.stdout.write(values.json ? `${JSON.stringify(details, null, 2)}\n` : formatRunTimeline(details));
      return 0;
    }
    if (!(await retryRun(db.pool, id!))) {
      io.stderr.write(
        `skyflow runs retry: run ${id} does not exist or has not failed; only failed or cancelled runs can be retried\n`,
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

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    options: {
      workflow: { type: "string" },
      status: { type: "string" },
      limit: { type: "string" },
      json: { type: "boolean" },
    },
    allowPositionals: true,
    strict: true,
  });
}

function notFound(io: CommandIO, id: string): number {
  io.stderr.write(`skyflow runs show: no run ${id}; \`skyflow runs list\` shows the recent ones\n`);
  return 1;
}
