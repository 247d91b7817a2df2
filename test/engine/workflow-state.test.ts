// Pause and resume state in Postgres, and the poller that carries it into the catalog's trigger view.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadOneFile } from "../../src/daemon-adapters.js";
import { LiveCatalog } from "../../src/engine/catalog.js";
import { pausedWorkflows, setPaused, watchPaused } from "../../src/engine/workflow-state.js";
import { silentLogger } from "../../src/log.js";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase("workflow_state");
});
afterAll(async () => {
  await db?.drop();
});

describe("workflow state", () => {
  it("stores pause and resume, idempotently", async () => {
    await setPaused(db.pool, "a", true);
    await setPaused(db.pool, "a", true);
    await setPaused(db.pool, "b", true);
    expect(await pausedWorkflows(db.pool)).toEqual(["a", "b"]);
    await setPaused(db.pool, "b", false);
    expect(await pausedWorkflows(db.pool)).toEqual(["a"]);
    await setPaused(db.pool, "a", false);
  });

  it("hides a paused workflow from the triggers' view on the next poll and shows it again on resume", async () => {
    const catalog = new LiveCatalog();
    const { mkdtemp, writeFile, rm } = await import("node:fs/promises");
    const { join } = await import("node:path");
    const { tmpdir } = await import("node:os");
    const dir = await mkdtemp(join(tmpdir(), "skyflow-state-"));
    await writeFile(
      join(dir, "w.yaml"),
      "on: {pubsub: {channel: c}}\nsteps:\n  - publish: {channel: d, data: {}}\n",
    );
    catalog.apply([await loadOneFile(join(dir, "w.yaml"))]);
    await rm(dir, { recursive: true });
    const watcher = await watchPaused({ db: db.pool, catalog, log: silentLogger(), intervalMs: 60_000 });
    try {
      expect(catalog.triggerView().get("w")).toBeDefined();
      await setPaused(db.pool, "w", true);
      await watcher.refresh();
      expect(catalog.triggerView().get("w")).toBeUndefined();
      expect(catalog.status("w")).toBe("paused");
      await setPaused(db.pool, "w", false);
      await watcher.refresh();
      expect(catalog.triggerView().get("w")).toBeDefined();
    } finally {
      watcher.stop();
    }
  });
});
