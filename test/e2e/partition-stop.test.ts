// `skyflow start` cut off from its database (a frozen TCP proxy between them) and then sent SIGTERM: it exits
// within its grace period and a bounded margin, saying what it could not finish, instead of waiting for TCP
// to give the dead connections up (minutes).
import { mkdirSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { type TcpProxy, tcpProxy } from "../helpers/proxy.js";
import { type Child, freePort, START_KEYS, startCli } from "./child.js";

const workflows = {
  // Every second: the cron trigger claims through the partition.
  "tick.yaml": `on: {cron: {schedule: "* * * * * *"}}
steps:
  - id: count
    sql: {statement: "SELECT 1 AS one"}
`,
  // The record trigger watches a table, and polls its outbox through the partition.
  "note.yaml": `on: {record: {type: note, events: [create]}}
steps:
  - id: noop
    sql: {statement: "SELECT 1 AS one"}
`,
};

let db: TestDatabase;
let dir: string | undefined;
let child: Child | undefined;
let proxy: TcpProxy | undefined;

beforeAll(async () => {
  db = await createTestDatabase("e2e_partition_stop");
});
afterAll(async () => {
  await child?.stop("SIGKILL");
  await proxy?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
  await db?.drop();
});

describe("skyflow start, cut off from its database", () => {
  it("exits on SIGTERM within its grace period and the shutdown margin", async () => {
    dir = await mkdtemp(join(tmpdir(), "skyflow-partition-"));
    mkdirSync(join(dir, "workflows"));
    for (const [name, text] of Object.entries(workflows)) await writeFile(join(dir, "workflows", name), text);
    const u = new URL(db.url);
    proxy = await tcpProxy(Number(u.port || 5432), u.hostname === "localhost" ? "127.0.0.1" : u.hostname);
    u.hostname = "127.0.0.1";
    u.port = String(proxy.port);
    child = startCli(["start", "--port", String(await freePort())], {
      cwd: dir,
      env: { ...START_KEYS, DATABASE_URL: u.toString(), SKYFLOW_GRACE_MS: "500", SKYFLOW_LOG_LEVEL: "info" },
    });
    await child.waitFor('"msg":"skyflow started"', 60_000);
    // Let a few cron fires run, then cut the database off while the triggers poll and claim.
    await new Promise((r) => setTimeout(r, 2_500));
    proxy.freeze();
    await new Promise((r) => setTimeout(r, 1_500));
    const t0 = Date.now();
    child.proc.kill("SIGTERM");
    const code = await Promise.race([
      child.exited,
      new Promise((r) => setTimeout(() => r("still running after 30 s"), 30_000)),
    ]);
    const took = Date.now() - t0;
    expect(code, child.output().slice(-3000)).toBe(1);
    expect(took).toBeLessThan(25_000);
    expect(child.output()).toContain("shutdown did not finish");
  }, 120_000);
});
