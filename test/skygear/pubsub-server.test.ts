// The pubsub client against the real Skygear-compatible hub (src/server/pubsub): the key header is accepted,
// the publisher's own subscription gets the echo, and a restart of the HTTP server on the same port is
// survived (reconnect, resubscribe, queued publishes flushed).
import { once } from "node:events";
import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningServer, startSkygearServer } from "../../src/server/http.js";
import { createPubsubClient, type PubsubClient } from "../../src/skygear/pubsub.js";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { capturedLogger } from "../helpers/log.js";
import { startTestServer, TEST_API_KEY, type TestServer } from "../helpers/server.js";

let db: TestDatabase;
let server: TestServer;
const closers: (() => Promise<void>)[] = [];

beforeAll(async () => {
  db = await createTestDatabase("skygear_pubsub_server");
  server = await startTestServer(db.pool);
});

afterAll(async () => {
  for (const c of closers.reverse()) await c();
  await server.close();
  await db.drop();
});

async function until(check: () => boolean): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("condition not reached in 5 s");
    await new Promise((r) => setTimeout(r, 10));
  }
}

function client(endpoint: string, apiKey = TEST_API_KEY): PubsubClient {
  const c = createPubsubClient({ endpoint, apiKey, backoff: { initialMs: 20, maxMs: 200 } });
  closers.push(() => c.close());
  return c;
}

describe("the pubsub client on the real hub", () => {
  it("gets the echo of its own publish on a subscribed channel", async () => {
    const c = client(server.url);
    const got: unknown[] = [];
    c.subscribe("real", (d) => got.push(d));
    await once(c, "connected");
    // The hub reads one socket's frames in order: the sub is applied before the pub.
    await c.publish("real", { hello: "world" });
    await until(() => got.length === 1);
    expect(got).toEqual([{ hello: "world" }]);
  });

  it("stays disconnected with a wrong key, says so once at error level, and fails publishes at once", async () => {
    const { log, lines } = capturedLogger("error");
    const c = createPubsubClient({
      endpoint: server.url,
      apiKey: "not-the-key",
      log,
      backoff: { initialMs: 20, maxMs: 50 },
    });
    closers.push(() => c.close());
    // Made before the hub answered: it waits for the connection, then fails with the refusal.
    const early = c.publish("x", { n: 1 });
    await expect(early).rejects.toMatchObject({ errorName: "AccessKeyNotAccepted", retryable: false });
    await new Promise((r) => setTimeout(r, 300)); // several more refused handshakes
    expect(c.isConnected()).toBe(false);
    await expect(c.publish("x", { n: 2 })).rejects.toThrow(
      /refused the API key \(HTTP 401\): check SKYGEAR_API_KEY/,
    );
    const errors = lines.map((l) => JSON.parse(l) as { level: number; msg: string });
    expect(errors).toHaveLength(1);
    expect(errors[0]!.msg).toMatch(/SKYGEAR_API_KEY/);
    expect(lines.join("")).not.toContain("not-the-key");
  });

  it("survives clients that reset the connection while their handshake is refused", async () => {
    // Unlistened, the server socket's ECONNRESET was an uncaught 'error' event (seen once in this file).
    const port = Number(new URL(server.url).port);
    for (let i = 0; i < 30; i++) {
      const s = connect(port, "127.0.0.1");
      await once(s, "connect");
      s.write(
        "GET /pubsub HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" +
          "X-Skygear-API-Key: wrong\r\n\r\n",
      );
      s.resetAndDestroy();
    }
    const c = client(server.url);
    await once(c, "connected");
    expect(c.isConnected()).toBe(true);
  });

  it("survives a restart of the server: resubscribes and flushes what was queued", async () => {
    let http: RunningServer = await startSkygearServer({ handler: server.handler, port: 0 });
    closers.push(() => http.close());
    const c = client(http.url);
    const got: unknown[] = [];
    c.subscribe("restart", (d) => got.push(d));
    await once(c, "connected");
    const down = once(c, "disconnected");
    await http.close();
    await down;
    const queued = c.publish("restart", { queued: 1 });
    http = await startSkygearServer({ handler: server.handler, port: http.port });
    await queued;
    await until(() => got.length === 1);
    expect(got).toEqual([{ queued: 1 }]);
  });
});
