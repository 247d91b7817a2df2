// skyflow.workflow_versions: the source text of every workflow version a run started on, so a run resumed
// after the file changed recompiles exactly the version it began with.
import type { WorkflowDefinition } from "../definition/types.js";
import type { Queryable } from "./enqueue.js";

export async function recordVersion(db: Queryable, def: WorkflowDefinition): Promise<void> {
  await db.query(
    `INSERT INTO skyflow.workflow_versions (workflow, version, source, file)
     VALUES ($1, $2, $3, $4) ON CONFLICT (workflow, version) DO NOTHING`,
    [def.name, def.version, def.source, def.file],
  );
}

export async function loadVersion(
  db: Queryable,
  workflow: string,
  version: string,
): Promise<{ source: string; file: string } | undefined> {
  const { rows } = await db.query<{ source: string; file: string }>(
    "SELECT source, file FROM skyflow.workflow_versions WHERE workflow = $1 AND version = $2",
    [workflow, version],
  );
  return rows[0];
}
