// A run in flight keeps the workflow version it started with while hot reload swaps in a new one; the next
// run uses the new version.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.js";
import { type Daemon, openDaemon } from "../../src/daemon.js";
import { silentLogger } from "../../src/log.js";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { eventually } from "./child.js";

const flow = (tag: string) => `on: {pubsub: {channel: never-sent}}
steps:
  - id: nap
    sql: {statement: "SELECT pg_sleep(1.5)"}
  - id: tag
    sql: {statement: "SELECT '${tag}' AS tag"}
`;

let db: TestDatabase;
let daemon: Daemon;
let dir: string;

beforeAll(async () => {
  db = await createTestDatabase("e2e_versions");
  dir = await mkdtemp(join(tmpdir(), "skyflow-versions-"));
  await writeFile(join(dir, "tagged.yaml"), flow("v1"));
  const config = loadConfig({ DATABASE_URL: db.url, PORT: "0" }, { dir });
  daemon = await openDaemon({ mode: "dev", config, log: silentLogger(), exposed: {} });
}, 60_000);

afterAll(async () => {
  await daemon?.stop();
  await db?.drop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("hot reload and runs in flight", () => {
  it("finishes a running run on its own version and starts the next on the new one", async () => {
    const v1 = daemon.catalog.get("tagged")?.version;
    const { runId: first } = await daemon.engine.trigger("tagged");
    await eventually(async () => {
      const { rows } = await db.pool.query("SELECT 1 FROM skyflow.step_tries WHERE run_id = $1", [first]);
      return rows.length ? true : undefined;
    });
    await writeFile(join(dir, "tagged.yaml"), flow("v2"));
    await eventually(async () => (daemon.catalog.get("tagged")?.version !== v1 ? true : undefined));
    const done = await daemon.engine.waitForRun(first);
    expect(done.status).toBe("succeeded");
    expect(done.version).toBe(v1);
    expect(JSON.stringify(done.tries.find((t) => t.stepKey === "tag")?.output)).toContain('"tag":"v1"');
    const { runId: second } = await daemon.engine.trigger("tagged");
    const next = await daemon.engine.waitForRun(second);
    expect(JSON.stringify(next.tries.find((t) => t.stepKey === "tag")?.output)).toContain('"tag":"v2"');
  });
});
