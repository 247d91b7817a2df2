// What the fault scenarios share: an app schema with a `task` table that an application keeps writing to, a
// workflow whose `sql` step logs each task once and whose save makes one `mark/<uuid()>` record per run, real
// `skyflow` processes, the tally of lost and duplicated effects, and the suite's summary file.
import { appendFileSync, mkdirSync, writeFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type pg from "pg";
import { afterAll } from "vitest";
import { ident } from "../../src/db/pool.js";
import { type Child, freePort, START_KEYS, startCli } from "../e2e/child.js";
import { createRecordTable } from "../engine/triggers/helpers.js";

export const APP = "app_skyflow";

/** A size from the environment (for longer runs), else the bounded default. */
export function size(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name}: expected a positive integer, got "${raw}"`);
  return n;
}

/** A seeded generator (mulberry32), so a failing round can be replayed with SKYFLOW_FAULTS_SEED. */
export function random(seed = Number(process.env.SKYFLOW_FAULTS_SEED ?? Date.now() % 2 ** 31)): {
  seed: number;
  next(): number;
  between(lo: number, hi: number): number;
} {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { seed, next, between: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)) };
}

/** The record-triggered workflow: one `task_log` row per task (sql), one `mark` record per run (uuid save). */
export function taskWorkflow(opts: { version?: number; retry?: string; timeout?: string } = {}): string {
  const common = `${opts.retry ? `    retry: ${opts.retry}\n` : ""}${opts.timeout ? `    timeout: ${opts.timeout}\n` : ""}`;
  return `on:
  record: {type: task, events: [create]}
steps:
  - id: log
${common}    sql:
      statement: INSERT INTO task_log (task_id, version) VALUES ($1, ${opts.version ?? 1})
      params: ["\${{ event.record._id }}"]
  - id: mark
${common}    save:
      as: master
      record:
        _id: "mark/\${{ uuid() }}"
        task: "\${{ event.record._id }}"
`;
}

/** The app's `task` table (with skyflow's trigger attached by the engine) and the sql step's `task_log`. */
export async function createTaskTables(pool: pg.Pool): Promise<void> {
  await createRecordTable(pool, APP, "task");
  await pool.query(`CREATE TABLE ${APP}.task_log (task_id text NOT NULL, version int NOT NULL DEFAULT 1)`);
}

/** A temporary project directory with `workflows/<name>.yaml`; removed by the returned function. */
export async function projectDir(
  name: string,
  text: string,
): Promise<{ dir: string; file: string; remove(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), "skyflow-faults-"));
  mkdirSync(join(dir, "workflows"));
  const file = join(dir, "workflows", `${name}.yaml`);
  await writeFile(file, text);
  return { dir, file, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** `skyflow <command>` in `dir`, waiting for its start line. */
export async function launch(
  dir: string,
  env: Record<string, string>,
  opts: { command?: "start" | "dev"; ready?: string } = {},
): Promise<Child> {
  const command = opts.command ?? "start";
  const child = startCli([command, "--port", String(await freePort())], {
    cwd: dir,
    env: { ...(command === "start" ? START_KEYS : {}), ...env },
  });
  try {
    await child.waitFor(opts.ready ?? (command === "start" ? "skyflow started" : "skyflow dev"), 120_000);
  } catch (err) {
    await child.stop("SIGKILL");
    throw err;
  }
  return child;
}

/**
 * The application: inserts tasks t0, t1, ... in transactions of `batch` rows, `pauseMs` apart. Each batch is
 * idempotent (ON CONFLICT DO NOTHING), so a batch whose outcome a database restart hid is simply sent again.
 */
export function taskWriter(pool: pg.Pool, opts: { batch?: number; pauseMs?: number } = {}) {
  const batch = opts.batch ?? 10;
  let written = 0;
  let failures = 0;
  return {
    written: () => written,
    failures: () => failures,
    async write(upTo: number, stop?: () => boolean): Promise<void> {
      while (written < upTo && !stop?.()) {
        const ids = Array.from({ length: Math.min(batch, upTo - written) }, (_, i) => `t${written + i}`);
        try {
          await pool.query(
            `INSERT INTO ${APP}.task (_id, _database_id, _owner_id, _created_at, _created_by, _updated_at, _updated_by)
             SELECT id, '', 'u1', now(), 'u1', now(), 'u1' FROM unnest($1::text[]) id ON CONFLICT DO NOTHING`,
            [ids],
          );
          written += ids.length;
        } catch {
          failures++;
          await sleep(100);
          continue;
        }
        await sleep(opts.pauseMs ?? 15);
      }
    },
  };
}

export interface Tally {
  /** Tasks (or messages) expected. */
  expected: number;
  runs: number;
  finished: number;
  lost: number;
  duplicated: number;
  detail: Record<string, number>;
}

/**
 * Counts, for `expected` tasks t0..t(n-1): runs per task, `task_log` rows per task (the sql step) and `mark`
 * records per task (the uuid() save). A task with no run, row or mark is lost; every run, row or mark beyond
 * one per task is a duplicate.
 */
export async function tallyTasks(pool: pg.Pool, expected: number, workflow: string): Promise<Tally> {
  const { rows } = await pool.query<Record<string, number>>(
    `WITH tasks AS (SELECT 'task/t' || g AS id FROM generate_series(0, $1::int - 1) g),
     runs AS (SELECT event->'record'->>'_id' AS id, count(*) AS n,
                     count(*) FILTER (WHERE status = 'succeeded') AS ok
              FROM skyflow.runs WHERE workflow = $2 GROUP BY 1),
     logs AS (SELECT task_id AS id, count(*) AS n FROM ${APP}.task_log GROUP BY 1),
     marks AS (SELECT task AS id, count(*) AS n FROM ${APP}.mark GROUP BY 1)
     SELECT
       (SELECT coalesce(sum(n), 0) FROM runs)::int AS runs,
       (SELECT coalesce(sum(ok), 0) FROM runs)::int AS finished,
       (SELECT count(*) FROM tasks LEFT JOIN runs USING (id) WHERE runs.n IS NULL)::int AS runs_lost,
       (SELECT coalesce(sum(n - 1), 0) FROM runs)::int AS runs_duplicated,
       (SELECT count(*) FROM tasks LEFT JOIN logs USING (id) WHERE logs.n IS NULL)::int AS rows_lost,
       (SELECT coalesce(sum(n - 1), 0) FROM logs)::int AS rows_duplicated,
       (SELECT count(*) FROM tasks LEFT JOIN marks USING (id) WHERE marks.n IS NULL)::int AS marks_lost,
       (SELECT coalesce(sum(n - 1), 0) FROM marks)::int AS marks_duplicated`,
    [expected, workflow],
  );
  const d = rows[0]!;
  return {
    expected,
    runs: d.runs!,
    finished: d.finished!,
    lost: d.runs_lost! + d.rows_lost! + d.marks_lost!,
    duplicated: d.runs_duplicated! + d.rows_duplicated! + d.marks_duplicated!,
    detail: d,
  };
}

/**
 * Polls the tally until every expected run has finished and nothing changed for a second (or the deadline
 * passes), and returns the last. A count that fails (a table not made yet) is tried again.
 */
export async function settle(count: () => Promise<Tally>, timeoutMs = 120_000): Promise<Tally> {
  const end = Date.now() + timeoutMs;
  let last: Tally | undefined;
  let stableSince = Date.now();
  for (;;) {
    let now: Tally | undefined;
    try {
      now = await count();
    } catch (err) {
      if (Date.now() > end) throw err;
    }
    if (now) {
      if (JSON.stringify(now) !== JSON.stringify(last)) stableSince = Date.now();
      last = now;
      if (last.finished >= last.expected && Date.now() - stableSince > 1_000) return last;
      if (Date.now() > end) return last;
    }
    await sleep(250);
  }
}

/**
 * When a tally shows a loss, a duplicate or an unfinished run: prints the runs and tries by status, and writes
 * each process's output to <tmpdir>/skyflow-faults-<label>-<i>.log, to read the story of one run.
 */
export async function diagnose(label: string, pool: pg.Pool, tally: Tally, children: Child[]): Promise<void> {
  if (!tally.lost && !tally.duplicated && tally.finished >= tally.expected) return;
  const runs = await pool.query("SELECT status, count(*)::int AS n FROM skyflow.runs GROUP BY 1 ORDER BY 1");
  const tries = await pool.query(
    "SELECT step_key, status, count(*)::int AS n FROM skyflow.step_tries GROUP BY 1, 2 ORDER BY 1, 2",
  );
  const files = children.map((c, i) => {
    const file = join(tmpdir(), `skyflow-faults-${label}-${i}.log`);
    writeFileSync(file, c.output());
    return file;
  });
  console.error(JSON.stringify({ label, detail: tally.detail, runs: runs.rows, tries: tries.rows, files }));
}

export interface ScenarioSummary {
  scenario: string;
  runs: number;
  kills: number;
  restarts: number;
  injected: number;
  lost: number;
  duplicated: number;
  seconds: number;
  note?: string;
}

/** Appends one scenario's figures to the suite's summary (printed by the global teardown). */
export function report(s: ScenarioSummary): void {
  const line = `${JSON.stringify(s)}\n`;
  const file = process.env.SKYFLOW_FAULTS_SUMMARY;
  if (file) appendFileSync(file, line);
  process.stdout.write(`faults: ${line}`);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export { ident };

/** Clean-ups to run after the file's tests, last registered first; one that fails does not stop the rest. */
export function cleanups(): (() => Promise<unknown>)[] {
  const list: (() => Promise<unknown>)[] = [];
  afterAll(async () => {
    for (const f of list.splice(0).reverse()) await f().catch(() => {});
  });
  return list;
}
