// The read-only dashboard over a real database: workflow rows with status, trigger and last run, runs as
// JSON with filters, and an HTML page that escapes what it shows.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LiveCatalog } from "../../src/engine/catalog.js";
import type { WorkflowDefinition } from "../../src/engine/definition/types.js";
import { enqueueRuns } from "../../src/engine/store/enqueue.js";
import { dashboardRoutes } from "../../src/http/dashboard.js";
import { type HttpServer, startHttpServer } from "../../src/http/server.js";
import { createStatusHandler } from "../../src/http/status.js";
import { createMetrics } from "../../src/metrics.js";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";

let db: TestDatabase;
let server: HttpServer;

const def = (name: string): WorkflowDefinition => ({
  name,
  file: `w/${name}.yaml`,
  version: "abcdef1234567890",
  enabled: true,
  source: "",
  description: "<script>alert(1)</script>",
  triggers: [
    { kind: "cron", schedule: "0 9 * * *", timezone: "Asia/Hong_Kong", catchUp: "none", overlap: "skip" },
    { kind: "record", type: "task", database: "_public", events: ["create"] },
  ],
  steps: [],
  onFailure: [],
});

beforeAll(async () => {
  db = await createTestDatabase("http_dashboard");
  const catalog = new LiveCatalog();
  catalog.apply([
    { file: "w/daily.yaml", workflow: def("daily"), problems: [] },
    {
      file: "w/bad.yaml",
      problems: [{ file: "w/bad.yaml", line: 2, column: 3, path: "on", message: "<b>bad</b>" }],
    },
  ]);
  await enqueueRuns(db.pool, [
    {
      workflow: "daily",
      version: "abcdef1234567890",
      event: { id: "e1", type: "manual", at: "2026-01-01T00:00:00Z" },
    },
  ]);
  await db.pool.query("UPDATE skyflow.runs SET status = 'failed', error = $1", [
    JSON.stringify({ step: "s", name: "SqlError", message: "<oops>" }),
  ]);
  const handler = createStatusHandler({
    metrics: createMetrics(),
    checks: {},
    routes: dashboardRoutes({ pool: db.pool, catalog }),
  });
  server = await startHttpServer(handler, 0, "127.0.0.1");
});
afterAll(async () => {
  await server?.close();
  await db?.drop();
});

const get = (path: string) => fetch(`http://127.0.0.1:${server.port}${path}`);

describe("dashboard", () => {
  it("lists workflows with status, triggers and last run, and broken files with their problems", async () => {
    const rows = (await (await get("/api/workflows")).json()) as Record<string, unknown>[];
    expect(rows[0]).toMatchObject({
      name: "daily",
      status: "enabled",
      version: "abcdef123456",
      triggers: ['cron "0 9 * * *" Asia/Hong_Kong', "record task create"],
      lastRun: { status: "failed" },
    });
    expect(rows[1]).toMatchObject({ status: "broken", problems: ["w/bad.yaml:2:3: on: <b>bad</b>"] });
  });

  it("filters runs by status", async () => {
    expect(await (await get("/api/runs?status=failed")).json()).toHaveLength(1);
    expect(await (await get("/api/runs?status=succeeded")).json()).toHaveLength(0);
  });

  it("renders an HTML page that escapes workflow and run text", async () => {
    const res = await get("/");
    expect(res.headers.get("content-type")).toContain("text/html");
    const html = await res.text();
    expect(html).toContain("daily");
    expect(html).toContain("&#60;oops&#62;");
    expect(html).not.toContain("<oops>");
    expect(html).not.toContain("<b>bad</b>");
  });
});
