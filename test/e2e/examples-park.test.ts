// The parking examples in workflows/ through the daemon (embedded server, engine, triggers), as an author uses
// them: approval-flow (a purchase request waits for its approval record or times out, then sleeps a
// cooling-off hour, then announces and audits in parallel) and daily-digest (a foreach calling build-digest,
// whose outputs it publishes). The hours and days
// they wait are skipped by making the parked run due now, as the passing of that time would.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEV_API_KEY, loadConfig } from "../../src/config.js";
import { type Daemon, openDaemon } from "../../src/daemon.js";
import { silentLogger } from "../../src/log.js";
import { createPubsubClient, type PubsubClient } from "../../src/skygear/pubsub.js";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { saveRecord, skygear } from "../helpers/sdk.js";
import { eventually } from "./child.js";

let db: TestDatabase;
let daemon: Daemon;
let pubsub: PubsubClient;
const seen: { channel: string; data: Record<string, unknown> }[] = [];

beforeAll(async () => {
  db = await createTestDatabase("e2e_examples_park");
  const config = loadConfig({ DATABASE_URL: db.url, PORT: "0" }, { dir: "workflows" });
  daemon = await openDaemon({ mode: "dev", config, log: silentLogger(), exposed: {}, httpPort: 0 });
  pubsub = createPubsubClient({ endpoint: daemon.skygearUrl, apiKey: DEV_API_KEY });
  for (const channel of ["approvals", "reports"])
    pubsub.subscribe(channel, (data) => seen.push({ channel, data: data as Record<string, unknown> }));
  await eventually(async () => (pubsub.connected() ? true : undefined));
  await skygear.config({ endPoint: daemon.skygearUrl, apiKey: DEV_API_KEY });
  await skygear.auth.signupAnonymously();
}, 60_000);

afterAll(async () => {
  await pubsub?.close();
  await daemon?.stop();
  await db?.drop();
});

const save = saveRecord;

const message = (channel: string, pred: (d: Record<string, unknown>) => boolean) =>
  eventually(async () => seen.find((m) => m.channel === channel && pred(m.data))?.data);

async function runFor(request: string) {
  const { rows } = await db.pool.query(
    "SELECT id, status FROM skyflow.runs WHERE workflow = 'approval-flow' AND event->'record'->>'_id' = $1",
    [request],
  );
  return rows[0] as { id: string; status: string } | undefined;
}

const statusOf = (request: string, status: string) =>
  eventually(async () => ((await runFor(request))?.status === status ? true : undefined), 30_000);

/** The time a parked run waits for has passed: it is due now. */
async function passTime(request: string): Promise<void> {
  const run = await runFor(request);
  await db.pool.query("UPDATE skyflow.runs SET available_at = now() WHERE id = $1", [run!.id]);
  await db.pool.query("NOTIFY skyflow_runs");
}

describe("parking examples", () => {
  it("approval-flow: an approved request sleeps its cooling-off hour, then is announced and audited", async () => {
    const request = await save("purchase_request", { item: "chair" });
    await statusOf(request.id, "waiting");
    await save("approval", { request: request.id, approved: true });
    await statusOf(request.id, "sleeping");
    await passTime(request.id);
    await statusOf(request.id, "succeeded");
    expect(await message("approvals", (d) => d.request === request.id)).toEqual({
      request: request.id,
      status: "approved",
    });
    const { rows } = await db.pool.query("SELECT request FROM app_skyflow.approval_audit");
    expect(rows).toEqual([{ request: request.id }]);
  }, 60_000);

  it("approval-flow: a request nobody answers in two days is escalated", async () => {
    const request = await save("purchase_request", { item: "desk" });
    await statusOf(request.id, "waiting");
    await save("approval", { request: "purchase_request/someone-else", approved: true });
    await passTime(request.id);
    await statusOf(request.id, "succeeded");
    expect(await message("approvals", (d) => d.request === request.id)).toEqual({
      request: request.id,
      status: "escalated",
    });
  }, 60_000);

  it("daily-digest: calls build-digest for each status, two at a time, and publishes their outputs", async () => {
    await save("task", { title: "a", status: "open" });
    await save("task", { title: "b", status: "open" });
    await save("task", { title: "c", status: "done" });
    const { runId } = await daemon.engine.trigger("daily-digest", { scheduled_at: "2026-01-01T08:00:00Z" });
    expect((await daemon.engine.waitForRun(runId, 30_000)).status).toBe("succeeded");
    const m = await message("reports", (d) => d.digests !== undefined);
    expect(m).toEqual({
      digests: [
        { status: "open", count: 2 },
        { status: "done", count: 1 },
      ],
    });
    const { rows } = await db.pool.query(
      "SELECT status, parent_id, event->'input'->>'status' AS s FROM skyflow.runs WHERE workflow = 'build-digest' ORDER BY 3",
    );
    expect(rows).toEqual([
      { status: "succeeded", parent_id: runId, s: "done" },
      { status: "succeeded", parent_id: runId, s: "open" },
    ]);
  }, 60_000);
});
