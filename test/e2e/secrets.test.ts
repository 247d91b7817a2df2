// Keys, tokens and passwords never reach the log, stored runs (skyflow.runs, step_tries), errors or /metrics,
// even when a run's steps fail with errors that quote them and its event carries them: the daemon as
// `skyflow start` runs it (embedded server, real keys, a database URL with a password, the CLI's logger).
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig, secretsOf } from "../../src/config.js";
import { type Daemon, openDaemon } from "../../src/daemon.js";
import { createLogger } from "../../src/log.js";
import { createPubsubClient, type PubsubClient } from "../../src/skygear/pubsub.js";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { eventually } from "./child.js";

const API_KEY = "k-api-5d1f0c27e9";
const MASTER_KEY = "k-master-8b3e61a4f0";
/** The database's password: the test database's own (embedded Postgres), or one a trusting server ignores. */
let DB_PASSWORD = "db-pw-3c9a7e15";
const USER_PASSWORD = "hunter2-user-pw";
const TOKEN = "tok-0f4c2d9b1e";
const secrets = () => [API_KEY, MASTER_KEY, DB_PASSWORD, USER_PASSWORD, TOKEN];

const WORKFLOWS: Record<string, string> = {
  // A SQL error quotes its parameter: here every secret the message carries.
  "cast.yaml": `on: { pubsub: { channel: leak } }
steps:
  - id: cast
    sql: { statement: "SELECT $1::int AS n", params: ["\${{ event.data.k + ' ' + event.data.db }}"] }
    retry: { attempts: 1 }
on_failure:
  - publish: { channel: leak-errors, data: { message: "\${{ error.message }}" } }
`,
  // An action named after the key, with the message's password and token as parameters.
  "call.yaml": `on: { pubsub: { channel: leak } }
steps:
  - action:
      name: "no:such:\${{ event.data.k }}"
      params: { password: "\${{ event.data.password }}", note: "\${{ string(event.data.nested) }}" }
    retry: { attempts: 1 }
`,
  // A key written into the file itself, quoted back by Postgres's error.
  "literal.yaml": `on: { pubsub: { channel: leak } }
steps:
  - id: literal
    sql: { statement: "SELECT '${MASTER_KEY}'::int AS n" }
    retry: { attempts: 1 }
`,
  // Acting as master, it saves what the message says, password field and all.
  "keep.yaml": `on: { pubsub: { channel: leak } }
steps:
  - save: { as: master, record: { _id: "note/\${{ uuid() }}", body: "\${{ event.data.k }}", user_password: "\${{ event.data.password }}" } }
`,
};

let db: TestDatabase;
let daemon: Daemon;
let dir: string;
let pubsub: PubsubClient;
const logged: string[] = [];

beforeAll(async () => {
  db = await createTestDatabase("e2e_secrets");
  dir = await mkdtemp(join(tmpdir(), "skyflow-secrets-"));
  for (const [name, text] of Object.entries(WORKFLOWS)) await writeFile(join(dir, name), text);
  const url = new URL(db.url);
  if (url.password) DB_PASSWORD = decodeURIComponent(url.password);
  else url.password = DB_PASSWORD;
  const config = loadConfig(
    {
      DATABASE_URL: url.toString(),
      SKYGEAR_API_KEY: API_KEY,
      SKYGEAR_MASTER_KEY: MASTER_KEY,
      PORT: "0",
      LOG_LEVEL: "debug",
    },
    { dir },
  );
  const destination = new Writable({
    write(chunk, _enc, done) {
      logged.push(String(chunk));
      done();
    },
  });
  const log = createLogger({ level: "debug", destination, secrets: secretsOf(config) });
  daemon = await openDaemon({ mode: "start", config, log, exposed: {}, httpPort: 0 });
  pubsub = createPubsubClient({ endpoint: daemon.skygearUrl, apiKey: API_KEY });
  await eventually(async () => (pubsub.connected() ? true : undefined));
}, 60_000);

afterAll(async () => {
  await pubsub?.close();
  await daemon?.stop();
  await db?.drop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

function expectNoSecret(where: string, text: string): void {
  for (const s of secrets()) expect(text.includes(s), `${where} contains ${s}`).toBe(false);
}

describe("secrets", () => {
  it("stay out of the log, stored runs, step tries and /metrics when steps fail quoting them", async () => {
    await pubsub.publish("leak", {
      k: API_KEY,
      db: DB_PASSWORD,
      password: USER_PASSWORD,
      nested: { access_token: TOKEN, deeper: [{ refresh_token: TOKEN }] },
    });
    const runs = await eventually(async () => {
      const { rows } = await db.pool.query(
        "SELECT workflow, status FROM skyflow.runs WHERE status IN ('succeeded', 'failed')",
      );
      return rows.length === 4 ? rows : undefined;
    });
    expect(runs.map((r) => `${r.workflow}:${r.status}`).sort()).toEqual([
      "call:failed",
      "cast:failed",
      "keep:succeeded",
      "literal:failed",
    ]);
    const stored = await db.pool.query(
      `SELECT row_to_json(r)::text AS t FROM skyflow.runs r
       UNION ALL SELECT row_to_json(t)::text FROM skyflow.step_tries t`,
    );
    expect(stored.rows.length).toBeGreaterThan(3);
    for (const row of stored.rows) expectNoSecret("a stored run", row.t);
    // The failures are there, redacted: the SQL errors quoted the values (the event's were redacted as the
    // run was created, the file's as the error was stored).
    const errors = await db.pool.query(
      "SELECT step_key, error->>'message' AS m FROM skyflow.step_tries WHERE step_key IN ('cast', 'literal') ORDER BY 1",
    );
    expect(errors.rows.map((r) => r.m)).toEqual([
      'invalid input syntax for type integer: "[redacted] [redacted]"',
      'invalid input syntax for type integer: "[redacted]"',
    ]);
    // The event as stored, and as the steps saw it: the password field is not there to read.
    const saved = await db.pool.query("SELECT body, user_password FROM app_skyflow.note");
    expect(saved.rows).toEqual([{ body: "[redacted]", user_password: "[redacted]" }]);
    const metrics = await (await fetch(`http://127.0.0.1:${daemon.httpPort}/metrics`)).text();
    expect(metrics).toContain("skyflow_runs_finished_total");
    expectNoSecret("/metrics", metrics);
    const log = logged.join("");
    expect(log).toMatch(/cast/);
    expectNoSecret("the log", log);
  });
});
