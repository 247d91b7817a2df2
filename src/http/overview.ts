// One row per workflow for `skyflow workflows list` and the dashboard: status, version, last run and trigger
// state (cron's next fire, whether a record table is watched), from a catalog plus the database.
import type pg from "pg";
import type { LiveCatalog } from "../engine/catalog.js";
import type { TriggerDefinition } from "../engine/definition/types.js";
import { formatProblem } from "../errors.js";
import type { WorkflowRow } from "./api-types.js";

export type { WorkflowRow };

/** Files that never loaded have no workflow; they are listed by file with status broken. */
export async function workflowRows(pool: pg.Pool, catalog: LiveCatalog): Promise<WorkflowRow[]> {
  const defs = catalog.list();
  const names = defs.map((d) => d.name);
  const [last, cron] = await Promise.all([lastRuns(pool, names), nextFires(pool, names)]);
  const problems = catalog.problems();
  const rows: WorkflowRow[] = defs.map((d) => ({
    name: d.name,
    status: catalog.status(d.name) ?? "enabled",
    version: d.version.slice(0, 12),
    file: d.file,
    description: d.description,
    triggers: d.triggers.map((t) => describeTrigger(t, cron.get(d.name))),
    lastRun: last.get(d.name) ?? null,
    problems: (problems.get(d.file) ?? []).map(formatProblem),
  }));
  const owned = new Set(defs.map((d) => d.file));
  for (const [file, list] of problems) {
    if (owned.has(file)) continue;
    rows.push({
      name: `(${file})`,
      status: "broken",
      version: "",
      file,
      triggers: [],
      lastRun: null,
      problems: list.map(formatProblem),
    });
  }
  return rows;
}

export function describeTrigger(t: TriggerDefinition, nextAt?: string): string {
  switch (t.kind) {
    case "record":
      return `record ${t.type} ${t.events.join(",")}${t.database !== "_public" ? ` ${t.database}` : ""}`;
    case "pubsub":
      return `pubsub ${t.channel}`;
    case "cron":
      return `cron "${t.schedule}" ${t.timezone}${nextAt ? ` next ${nextAt}` : ""}`;
    case "call":
      return "call";
  }
}

async function lastRuns(pool: pg.Pool, names: string[]): Promise<Map<string, WorkflowRow["lastRun"]>> {
  const { rows } = await pool.query<{ workflow: string; id: string; status: string; at: Date }>(
    // One index probe per workflow (runs_by_workflow); DISTINCT ON read every run of every workflow, and the
    // dashboard asks again whenever a run changes.
    `SELECT w AS workflow, r.id, r.status, r.created_at AS at
     FROM unnest($1::text[]) AS w
     CROSS JOIN LATERAL (SELECT id, status, created_at FROM skyflow.runs WHERE workflow = w
                         ORDER BY created_at DESC LIMIT 1) AS r`,
    [names],
  );
  return new Map(rows.map((r) => [r.workflow, { id: r.id, status: r.status, at: r.at.toISOString() }]));
}

async function nextFires(pool: pg.Pool, names: string[]): Promise<Map<string, string>> {
  const { rows } = await pool.query<{ workflow: string; next_at: Date }>(
    `SELECT workflow, min(next_at) AS next_at FROM skyflow.cron_schedules
     WHERE workflow = ANY($1::text[]) GROUP BY workflow`,
    [names],
  );
  return new Map(rows.map((r) => [r.workflow, r.next_at.toISOString()]));
}
