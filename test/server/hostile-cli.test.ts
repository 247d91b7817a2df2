// The hostile cases against `skyflow serve` and `skyflow start` as child processes (issue 20): every request
// case of hostile-cases.ts and the worst websocket frames, with keys of our own. Each is refused cleanly and
// writes nothing, the process keeps serving and exits 0 on SIGTERM, and its output (log level trace) holds
// no key, token or password and no unexpected failure.

import { mkdirSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { type Child, freePort, startCli } from "../e2e/child.js";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { HOSTILE_CASES, seedCases, sendCase } from "./hostile-cases.js";
import {
  expectItemRefusals,
  expectRefusal,
  fingerprint,
  secretsOf,
  signupUsers,
  type Target,
} from "./hostile-kit.js";
import { post } from "./http-client.js";

const API_KEY = "hostile-api-key-5f1c0e";
const MASTER_KEY = "hostile-master-key-9a7d42";

let db: TestDatabase;
let dir: string;
let child: Child | undefined;

beforeAll(async () => {
  db = await createTestDatabase("hostile_cli");
  dir = await mkdtemp(join(tmpdir(), "skyflow-hostile-"));
  mkdirSync(join(dir, "workflows"));
});
afterEach(async () => {
  await child?.stop("SIGKILL");
  child = undefined;
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
  await db?.drop();
});

async function launch(command: "serve" | "start", appName: string): Promise<Target> {
  const port = await freePort();
  child = startCli([command, "--port", String(port), "--app-name", appName], {
    cwd: dir,
    env: {
      DATABASE_URL: db.url,
      SKYGEAR_API_KEY: API_KEY,
      SKYGEAR_MASTER_KEY: MASTER_KEY,
      LOG_LEVEL: "trace",
      SKYFLOW_HTTP_PORT: "0",
    },
  });
  const url = `http://127.0.0.1:${port}/`;
  const end = Date.now() + 60_000;
  for (;;) {
    const up = await post(url, "/_status/healthz", {}).catch(() => undefined);
    if (up?.status === 200) break;
    if (child.proc.exitCode !== null || Date.now() > end) {
      throw new Error(`skyflow ${command} did not start:\n${child.output()}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return signupUsers(url, API_KEY, MASTER_KEY);
}

/** The worst frames of hostile-ws: each closes its own socket and leaves the process serving. */
async function hostileFrames(t: Target): Promise<void> {
  const wsUrl = `${t.url.replace(/^http/, "ws")}pubsub?api_key=${t.apiKey}`;
  const frames: (string | Buffer)[] = [
    "{nope",
    JSON.stringify({ action: "pub", channel: "c", data: { t: "\u0000" } }),
    JSON.stringify({ action: "sub", channel: "\ud800" }),
    `{"action":"pub","channel":"c","data":${"[".repeat(100_000)}1${"]".repeat(100_000)}}`,
    Buffer.from([0xff, 0xfe]),
    JSON.stringify({ action: "pub", channel: "c", data: "x".repeat(2 * 1024 * 1024) }),
  ];
  for (const frame of frames) {
    const ws = new WebSocket(wsUrl);
    ws.on("error", () => {});
    await new Promise<void>((resolve, reject) => {
      ws.once("open", () => resolve());
      ws.once("unexpected-response", () => reject(new Error("refused upgrade")));
    });
    const closed = new Promise<void>((r) => ws.once("close", () => r()));
    ws.send(frame);
    await closed;
  }
}

async function attack(command: "serve" | "start", appName: string): Promise<void> {
  const t = await launch(command, appName);
  await seedCases(t);
  const texts: string[] = [];
  // Rows are compared once around all cases (hostile-http compares around each).
  const before = await fingerprint(db, `app_${appName}`);
  for (const c of HOSTILE_CASES) {
    const r = await sendCase(t, c);
    if (c.item) expectItemRefusals(r, c.name);
    else expectRefusal(r, c.name);
    texts.push(r.text);
  }
  expect((await fingerprint(db, `app_${appName}`)).data).toBe(before.data);
  await hostileFrames(t);
  expect((await post(t.url, "/_status/healthz", {})).status).toBe(200);
  const running = child!;
  expect(await running.stop("SIGTERM")).toBe(0);
  const output = running.output();
  expect(output).not.toContain("request failed unexpectedly");
  expect(output).not.toMatch(/uncaught|unhandled/i);
  for (const s of secretsOf(t)) expect(output.includes(s), "a secret reached the output").toBe(false);
  for (const s of secretsOf(t))
    expect(texts.join("\n").includes(s), "a secret reached an answer").toBe(false);
}

describe("hostile cases against the CLI", () => {
  it("skyflow serve refuses every case cleanly and logs no secret", async () => {
    await attack("serve", "hostile_serve");
  }, 180_000);

  it("skyflow start refuses every case cleanly and logs no secret", async () => {
    await attack("start", "hostile_start");
  }, 180_000);
});
