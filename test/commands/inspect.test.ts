// The inspection commands against real runs in a real database: runs list/show/retry, workflows list, and
// pause/resume (state honoured by the catalog's trigger view). Commands run in-process with captured output.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { command as pause } from "../../src/commands/pause.js";
import { command as resume } from "../../src/commands/resume.js";
import { command as runs } from "../../src/commands/runs.js";
import type { CommandIO } from "../../src/commands/types.js";
import { command as workflows } from "../../src/commands/workflows.js";
import { loadOneFile } from "../../src/daemon-adapters.js";
import { LiveCatalog } from "../../src/engine/catalog.js";
import { createEngine, type Engine } from "../../src/engine/engine.js";
import { listWorkflowFiles } from "../../src/engine/reload.js";
import { pausedWorkflows } from "../../src/engine/workflow-state.js";
import { silentLogger } from "../../src/log.js";
import type { SkygearClient } from "../../src/skygear/types.js";
import { runCommand } from "../helpers/command.js";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";

let db: TestDatabase;
let dir: string;
let engine: Engine;
let okRun: string;
let badRun: string;
let whoRun: string;

function fakeSkygear(): SkygearClient {
  const c = { sendAction: async () => ({}), asUser: () => c, asMaster: () => c };
  return c as unknown as SkygearClient;
}

beforeAll(async () => {
  db = await createTestDatabase("commands_inspect");
  dir = await mkdtemp(join(tmpdir(), "skyflow-inspect-"));
  await writeFile(
    join(dir, "ok.yaml"),
    "on: {pubsub: {channel: a}}\nsteps:\n  - id: one\n    sql: {statement: SELECT 41 + 1 AS answer}\n",
  );
  await writeFile(
    join(dir, "bad.yaml"),
    "on: {pubsub: {channel: b}}\nsteps:\n  - id: boom\n    sql: {statement: SELECT * FROM no_such_table}\n    retry: {attempts: 1}\n",
  );
  await writeFile(
    join(dir, "who.yaml"),
    [
      "on: {pubsub: {channel: w}}",
      "steps:",
      "  - action: {name: me}",
      "  - action: {name: me, as: master}",
      '  - action: {name: me, as: "${{ event.data.u }}"}',
      "",
    ].join("\n"),
  );
  await writeFile(join(dir, "broken.yaml"), "on: {pubsub: {channel: c}}\nsteps:\n  - nope: {}\n");
  await writeFile(
    join(dir, "flaky.yaml"),
    "on: {pubsub: {channel: d}}\nsteps:\n  - id: one\n    sql: {statement: SELECT 1 AS one}\n",
  );
  const catalog = new LiveCatalog();
  catalog.replaceAll(await Promise.all((await listWorkflowFiles(dir)).map((f) => loadOneFile(f))));
  engine = createEngine({
    pool: db.pool,
    catalog,
    log: silentLogger(),
    // These workflows only run SQL; no Skygear call is made.
    clients: {
      pool: db.pool,
      appSchema: "public",
      // Only the who.yaml actions call it: every identity answers the same.
      skygear: fakeSkygear(),
      pubsub: { publish: async () => {} },
    },
  });
  await engine.start();
  okRun = (await engine.trigger("ok")).runId;
  whoRun = (await engine.trigger("who", { data: { u: "alice" } })).runId;
  await engine.waitForRun(whoRun);
  badRun = (await engine.trigger("bad")).runId;
  await engine.waitForRun(okRun);
  await engine.waitForRun(badRun);
  await engine.waitForRun((await engine.trigger("flaky")).runId);
});

afterAll(async () => {
  await engine?.stop({ graceMs: 0 });
  await db?.drop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const cli = (cmd: { run(io: CommandIO): Promise<number> }, argv: string[]) =>
  runCommand(cmd, argv, { DATABASE_URL: db.url }, dir);

describe("skyflow runs", () => {
  it("lists runs, filtered by workflow and status", async () => {
    const all = await cli(runs, ["list"]);
    expect(all.code).toBe(0);
    expect(all.out).toContain(okRun);
    expect(all.out).toContain(badRun);
    const failed = await cli(runs, ["list", "--status", "failed"]);
    expect(failed.out).toContain(badRun);
    expect(failed.out).not.toContain(okRun);
    const byName = await cli(runs, ["list", "--workflow", "ok"]);
    expect(byName.out).toContain(okRun);
    expect(byName.out).not.toContain(badRun);
  });

  it("shows a run's step timeline with tries, the error and the trimmed output", async () => {
    const bad = await cli(runs, ["show", badRun]);
    expect(bad.code).toBe(0);
    expect(bad.out).toMatch(/boom \(sql\) try 1: failed in \d+ms/);
    expect(bad.out).toMatch(/error {2}\w+: .*no_such_table/);
    const ok = await cli(runs, ["show", okRun]);
    expect(ok.out).toContain('"answer":42');
  });

  it("shows who each step acted as", async () => {
    const who = await cli(runs, ["show", whoRun]);
    const lines = who.out.split("\n").filter((l) => l.includes(" as "));
    expect(lines.map((l) => l.trim())).toEqual([
      "as     API key (no user)",
      "as     master key (no user)",
      "as     user alice",
    ]);
  });

  it("retries a failed run from its failed step and refuses a run that succeeded", async () => {
    expect((await cli(runs, ["retry", okRun])).code).toBe(1);
    const r = await cli(runs, ["retry", badRun]);
    expect(r.code).toBe(0);
    const detail = await engine.waitForRun(badRun);
    expect(detail.attempt).toBe(2);
    expect(detail.tries.filter((t) => t.stepKey === "boom").length).toBe(2);
  });

  it("takes any unique prefix of a run id, as the log prints it, and refuses an ambiguous or unknown one", async () => {
    const short = okRun.slice(0, 8);
    const shown = await cli(runs, ["show", short]);
    expect(shown.code).toBe(0);
    expect(shown.out).toContain(`run ${okRun}`);
    expect((await cli(runs, ["show", okRun.slice(0, 13).toUpperCase()])).out).toContain(`run ${okRun}`);
    await db.pool.query(
      `INSERT INTO skyflow.runs (id, workflow, version, event_id, event, status)
       VALUES ('abcdef01-0000-4000-8000-000000000001', 'other', 'v', 'p1', '{}', 'failed'),
              ('abcdef01-0000-4000-8000-000000000002', 'other', 'v', 'p2', '{}', 'failed'),
              ('abcdef02-0000-4000-8000-000000000003', 'other', 'v', 'p3', '{}', 'failed')`,
    );
    const ambiguous = await cli(runs, ["show", "abcdef01"]);
    expect(ambiguous.code).toBe(1);
    expect(ambiguous.err).toContain("abcdef01 is the start of several run ids");
    expect(ambiguous.err).toContain("abcdef01-0000-4000-8000-000000000001");
    expect((await cli(runs, ["retry", "abcdef01-0000-4000-8000-0000000000"])).code).toBe(1);
    const retried = await cli(runs, ["retry", "abcdef02"]);
    expect(retried.code).toBe(0);
    expect(retried.out).toContain("run abcdef02-0000-4000-8000-000000000003 queued again");
    const unknown = await cli(runs, ["show", "ffffffff"]);
    expect(unknown.code).toBe(1);
    expect(unknown.err).toContain("no run ffffffff");
    const notHex = await cli(runs, ["show", "run-42"]);
    expect(notHex.code).toBe(1);
    expect(notHex.err).toContain('"run-42" is not a run id');
  });

  it("answers an unknown run id with exit 1 and a usage error with exit 2", async () => {
    expect((await cli(runs, ["show", "00000000-0000-0000-0000-000000000000"])).code).toBe(1);
    expect((await cli(runs, ["explode"])).code).toBe(2);
  });
});

describe("skyflow workflows list, pause and resume", () => {
  it("lists each workflow's status, trigger and last run, and the broken file's problems", async () => {
    const r = await cli(workflows, ["list", dir]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/ok\s+enabled\s+\w+\s+pubsub a\s+succeeded/);
    expect(r.out).toMatch(/bad\s+enabled/);
    expect(r.out).toMatch(/broken\.yaml\)\s+broken/);
    expect(r.out).toMatch(/broken\.yaml:3:\d+/);
  });

  it("lists a broken file by the last good version a daemon runs, with its last run", async () => {
    await writeFile(join(dir, "flaky.yaml"), "on: {pubsub: {channel: d}}\nsteps:\n  - nope: {}\n");
    const r = await cli(workflows, ["list", dir]);
    expect(r.out).toMatch(/\nflaky\s+broken\s+[0-9a-f]{12}\s+pubsub d\s+succeeded \d{4}-/);
    expect(r.out).toMatch(/flaky\.yaml:3:\d+/);
  });

  it("pauses and resumes a workflow by name and refuses an unknown name", async () => {
    const env = ["--dir=" + dir];
    expect((await cli(pause, ["ok", ...env])).code).toBe(0);
    expect(await pausedWorkflows(db.pool)).toEqual(["ok"]);
    expect((await cli(workflows, ["list", dir])).out).toMatch(/ok\s+paused/);
    expect((await cli(resume, ["ok", ...env])).code).toBe(0);
    expect(await pausedWorkflows(db.pool)).toEqual([]);
    const unknown = await cli(pause, ["okk", ...env]);
    expect(unknown.code).toBe(1);
    expect(unknown.err).toContain('no workflow named "okk"');
  });
});
