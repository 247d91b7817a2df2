// The daemon's endpoints on a real loopback server: liveness, readiness against a real database (and a
// dependency that is down), Prometheus text with per-workflow counters, the prefix used under `dev`.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type HttpServer, startHttpServer } from "../../src/http/server.js";
import { createStatusHandler } from "../../src/http/status.js";
import { createMetrics } from "../../src/metrics.js";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";

let db: TestDatabase;
let server: HttpServer;
let pubsubUp = true;
const metrics = createMetrics({ inFlight: () => 3, outboxDepth: async () => 7 });

beforeAll(async () => {
  db = await createTestDatabase("http_status");
  const handler = createStatusHandler({
    prefix: "/_skyflow",
    metrics,
    stopping: () => false,
    checkTimeoutMs: 3000,
    checks: {
      database: async () => {
        await db.pool.query("SELECT 1");
      },
      pubsub: async () => {
        if (!pubsubUp) throw new Error("pubsub socket closed");
      },
      skygear: () => new Promise(() => {}),
    },
  });
  server = await startHttpServer(handler, 0, "127.0.0.1");
});
afterAll(async () => {
  await server?.close();
  await db?.drop();
});

const get = (path: string) => fetch(`http://127.0.0.1:${server.port}${path}`);

describe("status endpoints", () => {
  it("answers /healthz with 200 under the prefix and 404 without it", async () => {
    expect((await get("/_skyflow/healthz")).status).toBe(200);
    expect((await get("/healthz")).status).toBe(404);
  });

  it("reports each readiness check and answers 503 when one fails or hangs", async () => {
    pubsubUp = false;
    const res = await get("/_skyflow/readyz");
    pubsubUp = true;
    expect(res.status).toBe(503);
    const body = (await res.json()) as { checks: Record<string, { ok: boolean; error?: string }> };
    expect(body.checks.database?.ok).toBe(true);
    expect(body.checks.pubsub).toMatchObject({ ok: false, error: "pubsub socket closed" });
    expect(body.checks.skygear).toMatchObject({ ok: false, error: "skygear did not answer within 3000ms" });
  });

  it("answers /metrics with run counters per workflow and the scrape-time gauges", async () => {
    metrics.runStarted("review");
    metrics.runFinished("review", "failed", 0.2);
    metrics.stepFinished("review", "save", "succeeded", 0.004);
    const res = await get("/_skyflow/metrics");
    const text = await res.text();
    expect(res.headers.get("content-type")).toContain("text/plain");
    expect(text).toContain('skyflow_runs_started_total{workflow="review"} 1');
    expect(text).toContain('skyflow_runs_finished_total{workflow="review",status="failed"} 1');
    expect(text).toContain(
      'skyflow_step_duration_seconds_count{workflow="review",kind="save",status="succeeded"} 1',
    );
    expect(text).toContain("skyflow_runs_in_flight 3");
    expect(text).toContain("skyflow_outbox_depth 7");
  });

  it("answers /metrics with the triggers' figures, pubsub retries and drops included", async () => {
    metrics.setTriggerStats(() => ({
      outboxDepth: 2,
      cronLatenessMs: 40,
      pubsubRetrying: 5,
      pubsubDropped: 1,
    }));
    const text = await (await get("/_skyflow/metrics")).text();
    expect(text).toContain("skyflow_trigger_outbox_depth 2");
    expect(text).toContain("skyflow_cron_lateness_seconds 0.04");
    expect(text).toContain("skyflow_pubsub_messages_retrying 5");
    expect(text).toContain("skyflow_pubsub_messages_dropped 1");
  });
});

describe("readiness while stopping", () => {
  it("turns not ready once shutdown begins even when every dependency answers", async () => {
    const handler = createStatusHandler({
      metrics: createMetrics(),
      stopping: () => true,
      checks: { database: async () => {} },
    });
    const s = await startHttpServer(handler, 0, "127.0.0.1");
    try {
      const res = await fetch(`http://127.0.0.1:${s.port}/readyz`);
      expect(res.status).toBe(503);
      expect(((await res.json()) as { checks: object }).checks).toHaveProperty("shutdown");
    } finally {
      await s.close();
    }
  });
});
