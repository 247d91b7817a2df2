import { type ChildProcess, spawn } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { appSchemaName } from "../../src/config.js";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { startTestServer, TEST_APP_NAME, TEST_MASTER_KEY, type TestServer } from "../helpers/server.js";

let db: TestDatabase;
let server: TestServer;
const schema = appSchemaName(TEST_APP_NAME);

beforeAll(async () => {
  db = await createTestDatabase("engine_crash");
  server = await startTestServer(db.pool);
  await db.pool.query("CREATE TABLE public.crash_log (step text NOT NULL)");
});
afterAll(async () => {
  await server.close();
  await db.drop();
});

function child(env: Record<string, string>): {
  proc: ChildProcess;
  lines: string[];
  line(re: RegExp): Promise<string>;
} {
  const proc = spawn(process.execPath, ["--import", "tsx", "test/engine/fixtures/engine-child.ts"], {
    env: {
      ...process.env,
      DATABASE_URL: db.url,
      SKYGEAR_ENDPOINT: server.url,
      SKYGEAR_MASTER_KEY: TEST_MASTER_KEY,
      APP_SCHEMA: schema,
      ...env,
    },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const lines: string[] = [];
  const waiters: { re: RegExp; resolve: (l: string) => void }[] = [];
  let buf = "";
  proc.stdout!.on("data", (d: Buffer) => {
    buf += d.toString();
    for (let i = buf.indexOf("\n"); i >= 0; i = buf.indexOf("\n")) {
      const l = buf.slice(0, i);
      buf = buf.slice(i + 1);
      lines.push(l);
      for (const w of waiters.filter((x) => x.re.test(l))) w.resolve(l);
    }
  });
  return {
    proc,
    lines,
    line: (re) =>
      new Promise((resolve, reject) => {
        const hit = lines.find((l) => re.test(l));
        if (hit) return resolve(hit);
        waiters.push({ re, resolve });
        proc.once("exit", () => reject(new Error(`child exited before ${re}: ${lines.join(" | ")}`)));
      }),
  };
}

describe("crash recovery", () => {
  it("resumes a run after SIGKILL mid-step on another engine: finished steps run once, the uuid() save makes one record", async () => {
    const first = child({ OWNER: "engine-a", TRIGGER: "1", CRASH: "1", LEASE_MS: "1000" });
    const runId = (await first.line(/^run /)).slice(4);
    await first.line(/^saved /);
    const exited = new Promise((r) => first.proc.once("exit", r));
    first.proc.kill("SIGKILL");
    await exited;

    const before = await db.pool.query("SELECT status, lease_owner FROM skyflow.runs WHERE id = $1", [runId]);
    expect(before.rows[0]).toMatchObject({
      status: "running",
      lease_owner: expect.stringMatching(/^engine-a#/),
    });

    const second = child({ OWNER: "engine-b", WAIT_RUN: runId, LEASE_MS: "1000" });
    expect(await second.line(/^done /)).toBe("done succeeded null");
    await new Promise((r) => second.proc.once("exit", r));

    const log = await db.pool.query<{ step: string }>("SELECT step FROM public.crash_log");
    expect(log.rows.filter((r) => r.step === "one")).toHaveLength(1);
    const three = log.rows.filter((r) => r.step !== "one");
    expect(three).toHaveLength(1);
    const notes = await db.pool.query(`SELECT _id FROM ${schema}.note`);
    expect(notes.rows).toHaveLength(1);
    expect(three[0]!.step).toBe(`note/${notes.rows[0]._id}`);
    const tries = await db.pool.query<{ step_key: string; status: string }>(
      "SELECT step_key, status FROM skyflow.step_tries WHERE run_id = $1 ORDER BY started_at",
      [runId],
    );
    expect(tries.rows.map((t) => `${t.step_key}:${t.status}`)).toEqual([
      "one:succeeded",
      "two:interrupted",
      "two:succeeded",
      "three:succeeded",
    ]);
    const writes = await db.pool.query("SELECT record_type, op, run_id FROM skyflow.run_writes");
    expect(writes.rows).toEqual([{ record_type: "note", op: "save", run_id: runId }]);
  }, 60_000);
});
