// `skyflow serve` and `skyflow pushes` run as commands with captured streams and a captured signal handler.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { command as pushes } from "../../src/commands/pushes.js";
import { command as serve } from "../../src/commands/serve.js";
import { DEV_API_KEY, DEV_MASTER_KEY } from "../../src/config.js";
import { captureIO } from "../helpers/command.js";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { post } from "./http-client.js";

const capture = (argv: string[], env: Record<string, string | undefined>) => captureIO(argv, env);

async function until(cond: () => boolean, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 20));
  }
}

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase("server_commands");
});
afterAll(async () => {
  await db?.drop();
});

describe("skyflow serve", () => {
  it("refuses equal keys with exit code 2 naming the variable, without printing the key", async () => {
    const c = capture(["--api-key", "same-key-123", "--master-key", "same-key-123"], {
      DATABASE_URL: db.url,
    });
    expect(await serve.run(c.io)).toBe(2);
    expect(c.err()).toContain("SKYGEAR_MASTER_KEY");
    expect(c.err() + c.out()).not.toContain("same-key-123");
  });

  it("refuses equal keys given through the environment too", async () => {
    const c = capture([], { DATABASE_URL: db.url, SKYGEAR_API_KEY: "k", SKYGEAR_MASTER_KEY: "k" });
    expect(await serve.run(c.io)).toBe(2);
    expect(c.err()).toContain("SKYGEAR_MASTER_KEY");
  });

  it("serves until SIGTERM, printing development default keys but never supplied ones", async () => {
    const c = capture(["--port", "0", "--app-name", "cmdapp", "--api-key", "my-secret-client-key"], {
      DATABASE_URL: db.url,
      LOG_LEVEL: "warn",
    });
    const done = serve.run(c.io);
    await until(() => /on (http:\/\/\S+)/.test(c.out()));
    const url = /on (http:\/\/\S+)/.exec(c.out())![1]!;
    expect(c.out()).toContain(DEV_MASTER_KEY);
    expect(c.out()).not.toContain(DEV_API_KEY);
    expect(c.out() + c.err()).not.toContain("my-secret-client-key");
    const r = await post(url, "/_status/healthz", {}, { "X-Skygear-API-Key": "my-secret-client-key" });
    expect(r.json).toEqual({ result: { status: "OK" } });
    const schema = await db.pool.query("SELECT to_regclass('app_cmdapp._auth') AS t");
    expect(schema.rows[0].t).not.toBeNull();
    c.signal("SIGTERM");
    expect(await done).toBe(0);
    await expect(fetch(new URL("/", url), { method: "POST" })).rejects.toThrow();
  });
});

describe("skyflow pushes", () => {
  it("lists recorded pushes newest first, as text and as JSON", async () => {
    const c0 = capture(["--app-name", "cmdapp", "--json"], { DATABASE_URL: db.url });
    expect(await pushes.run(c0.io)).toBe(0);
    await db.pool.query(
      `INSERT INTO app_cmdapp._skyflow_push (kind, ids, notification, topic, result)
       VALUES ('user', '["u1"]', '{"apns":{"aps":{"alert":"one"}}}', NULL, '[{"_id":"u1"}]'),
              ('device', '["d1"]', '{"fcm":{}}', 'topic.x', '[{"_id":"d1"}]')`,
    );
    const text = capture(["--app-name", "cmdapp"], { DATABASE_URL: db.url });
    expect(await pushes.run(text.io)).toBe(0);
    const lines = text.out().trim().split("\n");
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/push:device +to=d1 +topic=topic\.x/);
    expect(lines[1]).toMatch(/push:user +to=u1 +topic=-/);
    const json = capture(["--app-name", "cmdapp", "--json", "--limit", "1"], { DATABASE_URL: db.url });
    expect(await pushes.run(json.io)).toBe(0);
    const list = JSON.parse(json.out());
    expect(list).toHaveLength(1);
    expect(list[0]).toMatchObject({ kind: "device", ids: ["d1"], topic: "topic.x", result: [{ _id: "d1" }] });
  });

  it("says so when the app has no push outbox yet", async () => {
    const c = capture(["--app-name", "neverserved"], { DATABASE_URL: db.url });
    expect(await pushes.run(c.io)).toBe(0);
    expect(c.out()).toContain("no pushes recorded for app neverserved");
  });

  it("refuses a bad --limit with exit code 2", async () => {
    const c = capture(["--limit", "zero"], { DATABASE_URL: db.url });
    expect(await pushes.run(c.io)).toBe(2);
  });
});
