// The daemon against an external Skygear server given by SKYGEAR_ENDPOINT: steps go over HTTP with the
// master key, pubsub over the server's websocket, and /readyz checks both.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.js";
import { type Daemon, openDaemon } from "../../src/daemon.js";
import { silentLogger } from "../../src/log.js";
import { type RunningServer, startSkygearServer } from "../../src/server/http.js";
import { createSkygearHandler, type SkygearServerHandler } from "../../src/server/index.js";
import { createContainer } from "../../src/skygear/container.js";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { eventually } from "./child.js";

const KEYS = { apiKey: "endpoint-api-key", masterKey: "endpoint-master-key" };
let db: TestDatabase;
let handler: SkygearServerHandler;
let server: RunningServer;
let daemon: Daemon;
let dir: string;

beforeAll(async () => {
  db = await createTestDatabase("e2e_endpoint");
  handler = createSkygearHandler({
    pool: db.pool,
    log: silentLogger(),
    config: { appName: "ext", schema: "app_ext", ...KEYS },
  });
  server = await startSkygearServer({ handler, port: 0 });
  dir = await mkdtemp(join(tmpdir(), "skyflow-endpoint-"));
  await writeFile(
    join(dir, "copy.yaml"),
    `on: {record: {type: note, events: [create]}}
steps:
  - save:
      as: master
      record: { _id: "copy/\${{ uuid() }}", of: "\${{ event.record._id }}" }
  - publish: { channel: copied, data: { of: "\${{ event.record._id }}" } }
`,
  );
  const config = loadConfig(
    {
      DATABASE_URL: db.url,
      SKYGEAR_ENDPOINT: server.url,
      SKYGEAR_API_KEY: KEYS.apiKey,
      SKYGEAR_MASTER_KEY: KEYS.masterKey,
      SKYGEAR_APP_NAME: "ext",
    },
    { dir },
  );
  daemon = await openDaemon({ mode: "start", config, log: silentLogger(), exposed: {}, httpPort: 0 });
}, 60_000);

afterAll(async () => {
  await daemon?.stop();
  await server?.close();
  await handler?.close();
  await db?.drop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("with SKYGEAR_ENDPOINT", () => {
  it("reports the endpoint and is ready once the server and its pubsub answer", async () => {
    expect(daemon.skygearUrl).toBe(server.url);
    const body = await eventually(async () => {
      const res = await fetch(`http://127.0.0.1:${daemon.httpPort}/readyz`);
      return res.status === 200 ? ((await res.json()) as { checks: Record<string, unknown> }) : undefined;
    });
    expect(Object.keys(body.checks).sort()).toEqual(["database", "pubsub", "skygear"]);
  });

  it("runs steps against the external server over HTTP", async () => {
    const client = createContainer({ endpoint: server.url, masterKey: KEYS.masterKey });
    try {
      const [note] = await client.save([{ _id: "note/n1", title: "hi" }]);
      const copies = await eventually(async () => {
        const r = await client.query({ recordType: "copy" });
        return r.records.length ? r.records : undefined;
      });
      expect(copies[0]?.of).toBe(note?._id);
    } finally {
      await client.transport.close?.();
    }
  });
});

describe("a port in use", () => {
  it("is a configuration error naming PORT and the fix", async () => {
    const config = loadConfig({ DATABASE_URL: db.url, PORT: String(server.port) }, { dir });
    await expect(openDaemon({ mode: "dev", config, log: silentLogger(), exposed: {} })).rejects.toThrow(
      `PORT: port ${server.port} is already in use; choose another with --port or PORT`,
    );
  });
});
