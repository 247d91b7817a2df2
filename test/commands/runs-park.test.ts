// `skyflow runs show`, `list --status` and `cancel` on parked runs, in-process against a real database: a
// sleeping run shows what it waits for and until when, and its open try as sleeping; cancel ends it and the
// run it called. A new run whose first (sql) try has no row yet shows that step running, as the runs API does.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { command as runs } from "../../src/commands/runs.js";
import type { CommandIO } from "../../src/commands/types.js";
import { loadOneFile } from "../../src/daemon-adapters.js";
import { LiveCatalog } from "../../src/engine/catalog.js";
import { createEngine, type Engine } from "../../src/engine/engine.js";
import { listWorkflowFiles } from "../../src/engine/reload.js";
import { firstStepOf, getRun } from "../../src/engine/store/inspect.js";
import { runDetail } from "../../src/http/runs-api.js";
import { silentLogger } from "../../src/log.js";
import type { SkygearClient } from "../../src/skygear/types.js";
import { runCommand } from "../helpers/command.js";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";

let db: TestDatabase;
let dir: string;
let engine: Engine;
let catalog: LiveCatalog;

beforeAll(async () => {
  db = await createTestDatabase("commands_runs_park");
  dir = await mkdtemp(join(tmpdir(), "skyflow-runs-park-"));
  await writeFile(join(dir, "nap.yaml"), "on: {call: {}}\nsteps:\n  - id: zz\n    sleep: 1h\n");
  await writeFile(
    join(dir, "boss.yaml"),
    "on: {call: {}}\nsteps:\n  - id: delegate\n    call: {workflow: nap}\n",
  );
  await writeFile(
    join(dir, "slowsql.yaml"),
    "on: {call: {}}\nsteps:\n  - id: long\n    sql: {statement: SELECT pg_sleep(2)}\n  - id: after\n    sleep: 1ms\n",
  );
  catalog = new LiveCatalog();
  catalog.replaceAll(await Promise.all((await listWorkflowFiles(dir)).map((f) => loadOneFile(f))));
  engine = createEngine({
    pool: db.pool,
    catalog,
    log: silentLogger(),
    pollMs: 200,
    clients: {
      pool: db.pool,
      appSchema: "public",
      skygear: {} as SkygearClient,
      pubsub: { publish: async () => {} },
    },
  });
  await engine.start();
});

afterAll(async () => {
  await engine?.stop({ graceMs: 0 });
  await db?.drop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const cli = (argv: string[]) =>
  runCommand(runs as { run(io: CommandIO): Promise<number> }, argv, { DATABASE_URL: db.url }, dir);

async function statusOf(id: string, want: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const { rows } = await db.pool.query("SELECT status FROM skyflow.runs WHERE id = $1", [id]);
    if (rows[0]?.status === want) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`run ${id} never ${want}`);
}

describe("skyflow runs on parked runs", () => {
  it("shows a sleeping run's wait, lists it by status, and cancels it with the run that called it", async () => {
    const { runId: boss } = await engine.trigger("boss", { type: "call", input: {} } as never);
    await statusOf(boss, "waiting");
    const { rows } = await db.pool.query("SELECT id FROM skyflow.runs WHERE parent_id = $1", [boss]);
    const nap = rows[0].id as string;
    await statusOf(nap, "sleeping");
    const shown = await cli(["show", nap]);
    expect(shown.code).toBe(0);
    expect(shown.out).toMatch(/waits {5}step zz: sleep until \d{4}-\d\d-\d\dT[\d:.]+Z \(since /);
    expect(shown.out).toContain(`parent    ${boss}`);
    expect(shown.out).toMatch(/zz \(sleep\) try 1: sleeping since \d{4}-/);
    const bossShown = await cli(["show", boss]);
    expect(bossShown.out).toContain(`waits     step delegate: call run ${nap}`);
    expect(bossShown.out).toMatch(/delegate \(call\) try 1: waiting since /);
    const sleeping = await cli(["list", "--status", "sleeping"]);
    expect(sleeping.out).toContain(nap);
    expect(sleeping.out).not.toContain(boss);
    const cancelled = await cli(["cancel", boss.slice(0, 8)]);
    expect(cancelled.code).toBe(0);
    expect(cancelled.out).toContain("1 called run(s) too");
    await statusOf(boss, "cancelled");
    await statusOf(nap, "cancelled");
    const again = await cli(["cancel", nap]);
    expect(again.code).toBe(1);
    expect(again.err).toContain("already finished");
  });

  it("shows a new run's first sql step running while its try has no row yet, then as saved", async () => {
    const { runId } = await engine.trigger("slowsql", { type: "call", input: {} } as never);
    await statusOf(runId, "running");
    // Nothing of the run is saved while its first statement runs: its COMMIT writes the try.
    const stored = await db.pool.query(
      "SELECT count(*)::int AS n FROM skyflow.step_tries WHERE run_id = $1",
      [runId],
    );
    expect(stored.rows[0].n).toBe(0);
    const api = await runDetail(db.pool, runId, [], firstStepOf(db.pool, catalog));
    expect(api?.status).toBe("running");
    expect(api?.tries).toMatchObject([
      { stepKey: "long", kind: "sql", attempt: 1, status: "running", finishedAt: null },
    ]);
    expect(api?.tree.map((n) => n.label)).toEqual(["long"]);
    const shown = await cli(["show", runId]);
    expect(shown.out).toMatch(/long \(sql\) try 1: running since /);
    expect(shown.out).not.toContain("no step has started");
    // Without a catalog: from the version the run started on, as stored.
    expect((await getRun(db.pool, runId))?.tries).toMatchObject([{ stepKey: "long", unsaved: true }]);
    const done = await engine.waitForRun(runId, 20_000);
    expect(done.status).toBe("succeeded");
    expect(done.tries.map((t) => [t.stepKey, t.status, t.unsaved])).toEqual([
      ["long", "succeeded", undefined],
      ["after", "succeeded", undefined],
    ]);
  });
});
