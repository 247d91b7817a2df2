// Shared by the trigger tests: hand-built workflow definitions, a catalog that can change, record tables in
// the Skygear layout, polling until the database shows what a test waits for, and the engine and triggers
// a test started, stopped after it.
import { createHash } from "node:crypto";
import type pg from "pg";
import { afterEach } from "vitest";
import { ident } from "../../../src/db/pool.js";
import { compileExpression } from "../../../src/engine/definition/expressions.js";
import type { Catalog, TriggerDefinition, WorkflowDefinition } from "../../../src/engine/definition/types.js";
import type { Engine } from "../../../src/engine/engine.js";
import type { Triggers } from "../../../src/engine/triggers/index.js";
import { createRecordTableSQL } from "../../../src/server/app-schema.js";

export function workflow(name: string, triggers: TriggerDefinition[], enabled = true): WorkflowDefinition {
  const source = `name: ${name}\n# ${JSON.stringify(triggers.map((t) => t.kind))}\n`;
  return {
    name,
    file: `workflows/${name}.yaml`,
    enabled,
    version: createHash("sha256").update(source).digest("hex").slice(0, 12),
    source,
    triggers,
    steps: [],
    onFailure: [],
  };
}

export function when(source: string) {
  return compileExpression(source, { file: "workflows/test.yaml", line: 3, column: 11 });
}

export interface MutableCatalog extends Catalog {
  set(list: WorkflowDefinition[]): void;
}

export function catalog(list: WorkflowDefinition[]): MutableCatalog {
  let current = list;
  const listeners = new Set<() => void>();
  return {
    get: (name) => current.find((w) => w.name === name),
    list: () => current,
    subscribe(l) {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    set(next) {
      current = next;
      for (const l of listeners) l();
    },
  };
}

export async function createRecordTable(
  pool: pg.Pool,
  schema: string,
  type: string,
  extra = "",
): Promise<void> {
  await pool.query(`CREATE SCHEMA IF NOT EXISTS ${ident(schema)}`);
  await pool.query(createRecordTableSQL(schema, type));
  if (extra) await pool.query(`ALTER TABLE ${ident(schema)}.${ident(type)} ${extra}`);
}

/** Inserts a public record the way the Skygear server stores one. */
export async function insertRecord(
  db: { query: pg.Pool["query"] },
  schema: string,
  type: string,
  key: string,
  fields: Record<string, unknown> = {},
): Promise<void> {
  const names = Object.keys(fields);
  const cols = [
    "_id",
    "_database_id",
    "_owner_id",
    "_created_at",
    "_created_by",
    "_updated_at",
    "_updated_by",
    ...names,
  ];
  const values = [key, "", "u1", "u1", "u1", ...names.map((n) => fields[n])];
  const ph = ["$1", "$2", "$3", "now() at time zone 'utc'", "$4", "now() at time zone 'utc'", "$5"];
  for (let i = 0; i < names.length; i++) ph.push(`$${i + 6}`);
  await db.query(
    `INSERT INTO ${ident(schema)}.${ident(type)} (${cols.map(ident).join(", ")}) VALUES (${ph.join(", ")})`,
    values,
  );
}

export async function waitFor<T>(
  fn: () => Promise<T>,
  ok: (v: T) => boolean,
  timeoutMs = 10_000,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (ok(v)) return v;
    // A wait that runs out is a failure here, not a value for the caller to check (which it may forget).
    if (Date.now() > end)
      throw new Error(
        `waitFor: not met within ${timeoutMs} ms; last value: ${JSON.stringify(v)?.slice(0, 500)}`,
      );
    await new Promise((r) => setTimeout(r, 25));
  }
}

export interface RunRow {
  id: string;
  workflow: string;
  event_id: string;
  event: Record<string, unknown> & { record?: Record<string, unknown>; original?: unknown };
  depth: number;
}

export async function runsOf(pool: pg.Pool, wf: string): Promise<RunRow[]> {
  const { rows } = await pool.query<RunRow>(
    "SELECT id, workflow, event_id, event, depth FROM skyflow.runs WHERE workflow = $1 ORDER BY created_at, event_id",
    [wf],
  );
  return rows;
}

export async function countRuns(pool: pg.Pool, wf: string): Promise<number> {
  const { rows } = await pool.query<{ n: string }>(
    "SELECT count(*) AS n FROM skyflow.runs WHERE workflow = $1",
    [wf],
  );
  return Number(rows[0]!.n);
}

/** An in-process hub: each engine gets its own client; the test sees who subscribed to what. */
export function hub() {
  const subs = new Map<string, Map<string, (data: unknown) => void>>();
  return {
    client(name: string) {
      return {
        subscribe(channel: string, handler: (data: unknown) => void) {
          const m = subs.get(channel) ?? new Map();
          subs.set(channel, m);
          m.set(name, handler);
          return () => m.delete(name);
        },
      };
    },
    subscribers: (channel: string) => [...(subs.get(channel)?.keys() ?? [])],
    publish(channel: string, data: unknown) {
      for (const h of subs.get(channel)?.values() ?? []) h(data);
    },
  };
}

/** The engine and triggers a test started: set them here. */
export interface Running {
  engine?: Engine;
  triggers?: Triggers;
}

/** What a test leaves in the returned object is stopped after it: the triggers first, then the engine. */
export function useEngineAndTriggers(): Running {
  const running: Running = {};
  afterEach(async () => {
    await running.triggers?.stop();
    await running.engine?.stop({ graceMs: 0 });
    running.triggers = running.engine = undefined;
  });
  return running;
}
