// `skyflow start` as an attacker meets it: a workflows directory holding every hostile file of the corpus
// next to good ones, workflows whose expressions run away, and pubsub messages that are deep, carry
// credential fields, or feed those expressions. The daemon refuses each file with file:line:column, fails
// each runaway step naming its expression, drops what it cannot take, keeps serving the good workflow,
// leaks no key or password to its log, and stops cleanly.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPubsubClient, type PubsubClient } from "../../src/skygear/pubsub.js";
import { type Child, eventually, freePort, START_KEYS, startCli } from "../e2e/child.js";
import { hostileExpressions, hostileYaml } from "../engine/definition/hostile-cases.js";
import { hostileEvent } from "../engine/definition/hostile-eval.js";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";

const PASSWORD = "hunter2-hostile";
let db: TestDatabase;
let dir: string;
let child: Child;
let pubsub: PubsubClient;
let httpPort: number;
const seen: unknown[] = [];

beforeAll(async () => {
  db = await createTestDatabase("hostile_start");
  dir = await mkdtemp(join(tmpdir(), "skyflow-hostile-start-"));
  const file = (name: string, text: string) => writeFile(join(dir, name), text);
  await file(
    "good.yaml",
    "on: { pubsub: { channel: ok } }\nsteps:\n  - publish: { channel: ok-out, data: { got: '${{ event.data.n }}' } }\n",
  );
  for (const [name, text] of Object.entries(hostileYaml)) await file(`h-${name.toLowerCase()}.yaml`, text);
  for (const [name, src] of Object.entries(hostileExpressions)) {
    await file(
      `x-${name.toLowerCase()}.yaml`,
      `on: { pubsub: { channel: bomb } }\nsteps:\n  - publish: { channel: out, data: { v: "\${{ ${src.replaceAll('"', '\\"')} }}" } }\n    retry: { attempts: 1 }\n`,
    );
  }
  await file(
    "when.yaml",
    `on: { pubsub: { channel: bomb, when: "\${{ size(${hostileExpressions.nestedOverData}) > 0 }}" } }\nsteps:\n  - publish: { channel: out }\n`,
  );
  const port = await freePort();
  httpPort = await freePort();
  child = startCli(["start", dir, "--port", String(port)], {
    cwd: dir,
    env: { ...START_KEYS, DATABASE_URL: db.url, SKYFLOW_HTTP_PORT: String(httpPort) },
  });
  await child.waitFor('"msg":"skyflow started"', 60_000);
  pubsub = createPubsubClient({ endpoint: `http://127.0.0.1:${port}/`, apiKey: START_KEYS.SKYGEAR_API_KEY });
  pubsub.subscribe("ok-out", (d) => seen.push(d));
  await eventually(async () => (pubsub.connected() ? true : undefined));
}, 90_000);

afterAll(async () => {
  await pubsub?.close();
  await child?.stop("SIGKILL");
  await db?.drop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("skyflow start against hostile files, expressions and events", () => {
  it("refuses every hostile file with file:line:column and loads the rest", () => {
    const out = child.output();
    for (const name of Object.keys(hostileYaml)) {
      expect(out, name).toMatch(new RegExp(`h-${name.toLowerCase()}\\.yaml:\\d+:\\d+: `));
    }
  });

  // A message too deep for the engine (test/engine/triggers/pubsub.test.ts) is refused by this server's hub.
  it("fails each runaway step naming its expression, and keeps serving", async () => {
    await pubsub.publish("bomb", { ...hostileEvent.data, password: PASSWORD, nested: { api_key: "x" } });
    const runs = await eventually(async () => {
      const { rows } = await db.pool.query<{
        workflow: string;
        status: string;
        error: { message: string } | null;
      }>("SELECT workflow, status, error FROM skyflow.runs WHERE status IN ('succeeded', 'failed')");
      return rows.length >= Object.keys(hostileExpressions).length ? rows : undefined;
    }, 90_000);
    for (const r of runs) {
      if (r.status === "failed")
        expect(r.error?.message, r.workflow).toMatch(/^[^\s]*x-[a-z]+\.yaml:3:\d+: \$\{\{ /);
    }
    const failed = runs.filter((r) => r.status === "failed").map((r) => r.workflow);
    for (const w of ["x-nestedmaps", "x-nestedoverdata", "x-nestedexists", "x-doublinglist"])
      expect(failed).toContain(w);
    expect(runs.map((r) => r.workflow)).not.toContain("when");
    await pubsub.publish("ok", { n: 7 });
    expect(await eventually(async () => seen.find((d) => (d as { got?: unknown }).got === 7))).toBeTruthy();
    const health = await fetch(`http://127.0.0.1:${httpPort}/healthz`);
    expect(health.status).toBe(200);
  }, 120_000);

  it("leaks no key or password to its log, and stops cleanly", async () => {
    const out = child.output();
    for (const s of [START_KEYS.SKYGEAR_API_KEY, START_KEYS.SKYGEAR_MASTER_KEY, PASSWORD])
      expect(out).not.toContain(s);
    expect(await child.stop("SIGTERM")).toBe(0);
  });
});
