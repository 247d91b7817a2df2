// One workflow for its dashboard page: the file's current text with its problems located, the triggers (cron's
// next fire), the steps (kind, who each acts as when the file says), the stored versions and recent runs.
import { readFile } from "node:fs/promises";
import type { LiveCatalog } from "../engine/catalog.js";
import type { StepDefinition, WorkflowDefinition } from "../engine/definition/types.js";
import type { Queryable } from "../engine/store/enqueue.js";
import { scheduleKey } from "../engine/triggers/cron/parse.js";
import { formatProblem } from "../errors.js";
import type { WorkflowDetail } from "./api-types.js";
import { describeTrigger } from "./overview.js";
import { listRunSummaries } from "./runs-api.js";

/** `name` is a workflow's name, or `(file)` for a file that never loaded (as the overview lists it). */
export async function workflowDetail(
  db: Queryable,
  catalog: LiveCatalog,
  name: string,
): Promise<WorkflowDetail | undefined> {
  const def = catalog.get(name);
  const file = def?.file ?? brokenFile(catalog, name);
  if (file === undefined) return undefined;
  const problems = catalog.problems().get(file) ?? [];
  const source =
    problems.length > 0 || !def ? await readFile(file, "utf8").catch(() => def?.source ?? "") : def.source;
  const [cron, versions, runs] = await Promise.all([
    def ? nextFires(db, def.name) : Promise.resolve(new Map<string, string>()),
    def ? storedVersions(db, def) : Promise.resolve([]),
    def ? listRunSummaries(db, { workflow: def.name, limit: 50 }) : Promise.resolve([]),
  ]);
  return {
    name,
    file,
    status: def ? (catalog.status(def.name) ?? "enabled") : "broken",
    description: def?.description,
    version: def?.version.slice(0, 12) ?? null,
    source,
    problems: problems.map((p) => ({ ...p, text: formatProblem(p) })),
    triggers: (def?.triggers ?? []).map((t) => {
      const nextAt = t.kind === "cron" ? (cron.get(scheduleKey(t.schedule, t.timezone)) ?? null) : null;
      return { kind: t.kind, text: describeTrigger(t), nextAt };
    }),
    steps: def ? [...def.steps.map(stepView("main")), ...def.onFailure.map(stepView("on_failure"))] : [],
    versions,
    runs,
    paused: def ? catalog.isPaused(def.name) : false,
  };
}

function brokenFile(catalog: LiveCatalog, name: string): string | undefined {
  const m = /^\((.+)\)$/.exec(name);
  return m && catalog.problems().has(m[1]!) ? m[1] : undefined;
}

const stepView = (phase: string) => (s: StepDefinition) => {
  const as = (s as StepDefinition & { as?: unknown }).as;
  return {
    key: s.key,
    kind: s.kind,
    name: s.name,
    line: s.line,
    phase,
    ...(as !== undefined ? { as: asText(as) } : {}),
  };
};

/** `as:` may be a compiled expression (its source is what the author wrote) or plain text. */
function asText(as: unknown): unknown {
  if (as && typeof as === "object" && "source" in as) return (as as { source: unknown }).source;
  return as;
}

async function nextFires(db: Queryable, workflow: string): Promise<Map<string, string>> {
  const { rows } = await db.query<{ schedule_key: string; next_at: Date }>(
    "SELECT schedule_key, next_at FROM skyflow.cron_schedules WHERE workflow = $1",
    [workflow],
  );
  return new Map(rows.map((r) => [r.schedule_key, r.next_at.toISOString()]));
}

async function storedVersions(db: Queryable, def: WorkflowDefinition): Promise<WorkflowDetail["versions"]> {
  const { rows } = await db.query<{ version: string; file: string; created_at: Date }>(
    `SELECT version, file, created_at FROM skyflow.workflow_versions WHERE workflow = $1
     ORDER BY created_at DESC LIMIT 50`,
    [def.name],
  );
  const list = rows.map((r) => ({
    version: r.version.slice(0, 12),
    file: r.file,
    createdAt: r.created_at.toISOString(),
    live: r.version === def.version,
  }));
  if (!rows.some((r) => r.version === def.version)) {
    list.unshift({ version: def.version.slice(0, 12), file: def.file, createdAt: "", live: true });
  }
  return list;
}
