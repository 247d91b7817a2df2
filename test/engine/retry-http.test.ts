import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createEngine, type Engine } from "../../src/engine/engine.js";
import { silentLogger } from "../../src/log.js";
import { createContainer, type SkygearContainer } from "../../src/skygear/container.js";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { catalogOf, poolOnlyClients, step, workflow } from "./fixtures/defs.js";

let db: TestDatabase;
let server: Server;
let container: SkygearContainer;
let engine: Engine | undefined;
/** Per action path: how many requests came, and how many to fail before answering. */
const hits = new Map<string, number>();
const plan = new Map<string, { fail: number; status: number; name: string; code: number }>();

beforeAll(async () => {
  db = await createTestDatabase("engine_retry_http");
  server = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      const path = req.url ?? "";
      const n = (hits.get(path) ?? 0) + 1;
      hits.set(path, n);
      const p = plan.get(path);
      res.setHeader("content-type", "application/json");
      if (p && n <= p.fail) {
        res.statusCode = p.status;
        res.end(JSON.stringify({ error: { name: p.name, code: p.code, message: `try ${n} refused` } }));
        return;
      }
      res.end(JSON.stringify({ result: { answeredOnTry: n } }));
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  container = createContainer({ endpoint: `http://127.0.0.1:${port}/`, masterKey: "master" });
});
afterEach(async () => {
  await engine?.stop({ graceMs: 0 });
  engine = undefined;
});
afterAll(async () => {
  await container.transport.close?.();
  await new Promise((r) => server.close(r));
  await db.drop();
});

function start(action: string, retryOn?: string[]) {
  const wf = workflow(`call-${action}`, [
    step(
      "action",
      { name: `test:${action}` },
      {
        id: "call",
        retry: { attempts: 4, backoff: "fixed", delayMs: 5, maxDelayMs: 5, jitter: false, on: retryOn },
      },
    ),
  ]);
  engine = createEngine({
    pool: db.pool,
    catalog: catalogOf([wf]),
    clients: { ...poolOnlyClients(db.pool), skygear: container },
    log: silentLogger(),
    pollMs: 100,
  });
  return { engine, name: wf.name };
}

describe("retries against a real HTTP server", () => {
  it("retries 503 answers and succeeds on the try that is answered", async () => {
    plan.set("/test/flaky", { fail: 2, status: 503, name: "UnexpectedError", code: 10000 });
    const { engine, name } = start("flaky");
    await engine.start();
    const run = await engine.waitForRun((await engine.trigger(name)).runId);
    expect(run.status).toBe("succeeded");
    expect(hits.get("/test/flaky")).toBe(3);
    expect(run.tries.map((t) => t.status)).toEqual(["failed", "failed", "succeeded"]);
    expect(run.tries[2]!.output).toEqual({ result: { answeredOnTry: 3 } });
  });

  it("fails at once on PermissionDenied, with one request", async () => {
    plan.set("/test/denied", { fail: 99, status: 403, name: "PermissionDenied", code: 102 });
    const { engine, name } = start("denied");
    await engine.start();
    const run = await engine.waitForRun((await engine.trigger(name)).runId);
    expect(run.status).toBe("failed");
    expect(hits.get("/test/denied")).toBe(1);
    expect(run.error).toMatchObject({ name: "PermissionDenied", step: "call" });
  });

  it("gives up after the attempts when the server keeps failing", async () => {
    plan.set("/test/down", { fail: 99, status: 503, name: "UnexpectedError", code: 10000 });
    const { engine, name } = start("down");
    await engine.start();
    const run = await engine.waitForRun((await engine.trigger(name)).runId);
    expect(run.status).toBe("failed");
    expect(hits.get("/test/down")).toBe(4);
  });

  it("with retry.on, retries only the named errors (a 503 is not retried when only ResourceNotFound is)", async () => {
    plan.set("/test/named", { fail: 1, status: 503, name: "UnexpectedError", code: 10000 });
    const { engine, name } = start("named", ["ResourceNotFound"]);
    await engine.start();
    const run = await engine.waitForRun((await engine.trigger(name)).runId);
    expect(run.status).toBe("failed");
    expect(hits.get("/test/named")).toBe(1);
  });
});
