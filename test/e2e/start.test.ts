// `skyflow start` as a child process: JSON log lines, the HTTP endpoints, SIGHUP reloading the files, a
// SIGTERM that lets the run in flight finish before exiting 0, and a second signal that exits at once.
import { existsSync, mkdirSync, readdirSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { getPriority, tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createPubsubClient, type PubsubClient } from "../../src/skygear/pubsub.js";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { type Child, eventually, freePort, START_KEYS, startCli } from "./child.js";

const slow = (seconds: number, channel = "slow") => `on: {pubsub: {channel: ${channel}}}
steps:
  - id: nap
    sql: {statement: "SELECT pg_sleep(${seconds}) AS slept"}
`;

let db: TestDatabase;
let dir: string;
let child: Child | undefined;
let pubsub: PubsubClient | undefined;

beforeAll(async () => {
  db = await createTestDatabase("e2e_start");
});
afterEach(async () => {
  await pubsub?.close();
  pubsub = undefined;
  await child?.stop("SIGKILL");
  child = undefined;
  if (dir) await rm(dir, { recursive: true, force: true });
});
afterAll(async () => {
  await db?.drop();
});

async function launch(workflow: string, graceMs: number) {
  dir = await mkdtemp(join(tmpdir(), "skyflow-start-"));
  mkdirSync(join(dir, "workflows"));
  await writeFile(join(dir, "workflows", "slow.yaml"), workflow);
  const port = await freePort();
  const httpPort = await freePort();
  child = startCli(["start", "--port", String(port)], {
    cwd: dir,
    env: {
      ...START_KEYS,
      DATABASE_URL: db.url,
      SKYFLOW_HTTP_PORT: String(httpPort),
      SKYFLOW_GRACE_MS: String(graceMs),
    },
  });
  await child.waitFor('"msg":"skyflow started"', 60_000);
  pubsub = createPubsubClient({ endpoint: `http://127.0.0.1:${port}/`, apiKey: START_KEYS.SKYGEAR_API_KEY });
  await eventually(async () => (pubsub?.connected() ? true : undefined));
  return { child, httpPort, pubsub };
}

// Publishing is fire and forget, so a test publishes until some run of the channel is running; runs of
// earlier publishes may still arrive after that one, so the test follows that run by its id.
const runningRun = async (channel: string) => {
  const { rows } = await db.pool.query(
    "SELECT id FROM skyflow.runs WHERE event->>'channel' = $1 AND status = 'running' LIMIT 1",
    [channel],
  );
  return rows[0]?.id as string | undefined;
};
const statusOf = async (id: string) =>
  (await db.pool.query("SELECT status FROM skyflow.runs WHERE id = $1", [id])).rows[0]?.status as string;

describe("skyflow start", () => {
  it("logs JSON, serves the endpoints, reloads on SIGHUP and drains a run in flight on SIGTERM", async () => {
    const { child, httpPort, pubsub } = await launch(slow(0.1, "one"), 20_000);
    const lines = child.output().trim().split("\n");
    for (const line of lines) expect(() => JSON.parse(line)).not.toThrow();
    // Once started, its threads but the JavaScript one run at the least priority (src/helper-threads.ts).
    if (existsSync("/proc/self/task")) {
      const pid = child.proc.pid!;
      const nices = () =>
        readdirSync(`/proc/${pid}/task`).map((t) => [Number(t), getPriority(Number(t))] as const);
      await eventually(async () =>
        nices().every(([t, n]) => n === (t === pid ? 0 : 19)) ? true : undefined,
      );
      expect(nices().length).toBeGreaterThan(4);
    }
    const base = `http://127.0.0.1:${httpPort}`;
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    const ready = await fetch(`${base}/readyz`);
    expect(await ready.json()).toMatchObject({ ready: true });
    // The dashboard's API needs the master key (or a dashboard token) outside `skyflow dev`.
    expect((await fetch(`${base}/api/workflows`)).status).toBe(401);
    const auth = { headers: { authorization: `Bearer ${START_KEYS.SKYGEAR_MASTER_KEY}` } };
    expect(await (await fetch(`${base}/api/workflows`, auth)).json()).toMatchObject([
      { name: "slow", status: "enabled" },
    ]);

    await writeFile(join(dir, "workflows", "slow.yaml"), slow(2, "two"));
    const mark = child.output().length;
    child.proc.kill("SIGHUP");
    await child.waitFor("workflow slow reloaded", 10_000, mark);

    // Pubsub is fire and forget: publish until the trigger (subscribing to the new channel) has seen one.
    const run = await eventually(async () => {
      await pubsub.publish("two", { n: 1 });
      return runningRun("two");
    });
    expect(await child.stop("SIGTERM")).toBe(0);
    expect(await statusOf(run)).toBe("succeeded");
    expect(child.output()).toContain("skyflow stopped");
  }, 90_000);

  it("checkpoints a run that outlasts SKYFLOW_GRACE_MS and still exits 0", async () => {
    const { child, pubsub } = await launch(slow(20, "four"), 500);
    await eventually(async () => {
      await pubsub.publish("four", { n: 1 });
      return runningRun("four");
    });
    const t0 = Date.now();
    expect(await child.stop("SIGTERM")).toBe(0);
    expect(Date.now() - t0).toBeLessThan(15_000);
    const { rows } = await db.pool.query(
      "SELECT status, lease_owner FROM skyflow.runs WHERE event->>'channel' = 'four' AND status <> 'succeeded'",
    );
    expect(rows.length).toBeGreaterThan(0);
    for (const r of rows) expect(r.lease_owner).toBeNull();
  }, 90_000);

  it("exits at once on a second signal, leaving the unfinished run to be resumed", async () => {
    const { child, pubsub } = await launch(slow(30, "three"), 60_000);
    const run = await eventually(async () => {
      await pubsub.publish("three", { n: 1 });
      return runningRun("three");
    });
    child.proc.kill("SIGTERM");
    await child.waitFor("SIGTERM: stopping intake", 10_000);
    const t0 = Date.now();
    child.proc.kill("SIGTERM");
    expect(await child.exited).toBe(1);
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(await statusOf(run)).not.toBe("succeeded");
  }, 90_000);
});
