// Every example in workflows/ loads, and each runs through the daemon (embedded server, engine, triggers)
// the way an author would use it: records saved through the official SDK, messages on pubsub, a cron run by
// hand. Also runs the README's SDK example.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEV_API_KEY, loadConfig } from "../../src/config.js";
import { type Daemon, openDaemon } from "../../src/daemon.js";
import { loadOneFile } from "../../src/daemon-adapters.js";
import { listWorkflowFiles } from "../../src/engine/reload.js";
import { formatProblem } from "../../src/errors.js";
import { silentLogger } from "../../src/log.js";
import { listPushes } from "../../src/server/push/outbox.js";
import { createPubsubClient, type PubsubClient } from "../../src/skygear/pubsub.js";
import { createTestDatabase, type TestDatabase, terminateBackends } from "../helpers/db.js";
import { type SdkRecord, skygear } from "../helpers/sdk.js";
import { eventually } from "./child.js";

let db: TestDatabase;
let daemon: Daemon;
let pubsub: PubsubClient;
const seen: { channel: string; data: Record<string, unknown> }[] = [];

beforeAll(async () => {
  db = await createTestDatabase("e2e_examples");
  const config = loadConfig({ DATABASE_URL: db.url, PORT: "0" }, { dir: "workflows" });
  daemon = await openDaemon({ mode: "dev", config, log: silentLogger(), exposed: {}, httpPort: 0 });
  pubsub = createPubsubClient({ endpoint: daemon.skygearUrl, apiKey: DEV_API_KEY });
  for (const channel of ["task-events", "find-task-result", "fetch-task-result", "reports"]) {
    pubsub.subscribe(channel, (data) => seen.push({ channel, data: data as Record<string, unknown> }));
  }
  await eventually(async () => (pubsub.connected() ? true : undefined));
  await skygear.config({ endPoint: daemon.skygearUrl, apiKey: DEV_API_KEY });
}, 60_000);

afterAll(async () => {
  await pubsub?.close();
  await daemon?.stop();
  await db?.drop();
});

const message = (channel: string, pred: (d: Record<string, unknown>) => boolean) =>
  eventually(async () => seen.find((m) => m.channel === channel && pred(m.data))?.data);
/** A message on `channel` that `pred` accepts, waiting up to a second for one; else undefined. */
const eventuallyOnce = async (channel: string, pred: (d: Record<string, unknown>) => boolean) => {
  for (let i = 0; i < 20; i++) {
    const m = seen.find((x) => x.channel === channel && pred(x.data));
    if (m) return m.data;
    await new Promise((r) => setTimeout(r, 50));
  }
  return undefined;
};

async function query(type: string, field: string, value: unknown): Promise<SdkRecord[]> {
  const q = new skygear.Query(skygear.Record.extend(type));
  q.equalTo(field, value);
  return skygear.publicDB.query(q);
}

describe("example workflows", () => {
  it("all load without problems", async () => {
    const results = await Promise.all((await listWorkflowFiles("workflows")).map((f) => loadOneFile(f)));
    expect(results.length).toBeGreaterThanOrEqual(7);
    expect(results.flatMap((r) => r.problems.map(formatProblem))).toEqual([]);
    expect(daemon.catalog.list().length).toBe(results.length);
  });

  it("README example: a task with a reviewer gets a review saved as the reviewer, a push, a count and an event", async () => {
    const user = await skygear.auth.signupAnonymously();
    const Task = skygear.Record.extend("task");
    const task = await skygear.publicDB.save(
      new Task({
        title: "Sales report",
        status: "open",
        reviewer: new skygear.Reference(`user/${user._id}`),
      }),
    );
    const [review] = await eventually(async () => {
      const r = await query("review", "task", new skygear.Reference(task.id));
      return r.length ? r : undefined;
    });
    expect(review?.note).toBe("Review Sales report");
    expect(review?.ownerID ?? review?._ownerID).toBe(user._id);
    const pushes = await eventually(async () => {
      const p = await listPushes(db.pool, "app_skyflow");
      return p.length ? p : undefined;
    });
    expect(JSON.stringify(pushes[0])).toContain(user._id);
    await message("task-events", (d) => d.id === task.id && d.op === "create");
    const counts = await eventually(async () => {
      const r = await db.pool
        .query("SELECT n FROM app_skyflow.task_counts WHERE op = 'create'")
        .catch(() => undefined);
      return r?.rows[0]?.n as number | undefined;
    });
    expect(counts).toBeGreaterThanOrEqual(1);
  });

  it("find-task and fetch-task answer a pubsub request for a task, both named task/<key>", async () => {
    const Task = skygear.Record.extend("task");
    const task = await skygear.publicDB.save(new Task({ title: "Find me", status: "open" }));
    await pubsub.publish("find-task", { id: task.id });
    const found = await message("find-task-result", (d) => d.id === task.id);
    expect(found).toMatchObject({ count: 1, title: "Find me" });
    await pubsub.publish("fetch-task", { id: task.id });
    const fetched = await message("fetch-task-result", (d) => d.id === task.id);
    expect(JSON.stringify(fetched)).toContain("Find me");
  });

  it("find-task and fetch-task never hand out a task its owner keeps private", async () => {
    await skygear.auth.signupAnonymously();
    const Task = skygear.Record.extend("task") as unknown as new (
      a: Record<string, unknown>,
    ) => SdkRecord & { setPublicNoAccess(): void };
    const secret = new Task({ title: "Owner only", status: "open" });
    secret.setPublicNoAccess();
    const task = await skygear.publicDB.save(secret);
    await pubsub.publish("find-task", { id: task.id });
    expect(await message("find-task-result", (d) => d.id === task.id)).toMatchObject({ count: 0, title: "" });
    await pubsub.publish("fetch-task", { id: task.id });
    const fetched = await message("fetch-task-result", (d) => d.id === task.id);
    expect(JSON.stringify(fetched)).not.toContain("Owner only");
  });

  it("archive-done-task deletes a task marked done", async () => {
    const Task = skygear.Record.extend("task");
    const task = await skygear.publicDB.save(new Task({ title: "Finish", status: "open" }));
    task.status = "done";
    await skygear.publicDB.save(task);
    await message("task-events", (d) => d.id === task.id && d.op === "delete");
    expect((await query("task", "_id", task._id)).length).toBe(0);
  });

  it("daily-report is scheduled in its timezone and publishes the open task count when run", async () => {
    const { rows } = await db.pool.query(
      "SELECT timezone, next_at FROM skyflow.cron_schedules WHERE workflow = 'daily-report'",
    );
    const schedule = rows[0] as { timezone: string; next_at: Date };
    expect(schedule.timezone).toBe("Asia/Hong_Kong");
    expect(schedule.next_at.getUTCHours()).toBe(1);
    const { runId } = await daemon.engine.trigger("daily-report", { scheduled_at: "2026-01-01T01:00:00Z" });
    expect((await daemon.engine.waitForRun(runId)).status).toBe("succeeded");
    const report = await message("reports", (d) => d.at === "2026-01-01T01:00:00Z");
    expect(report.open_tasks).toBeGreaterThanOrEqual(1);
  });

  it("overdue-reminder pushes each reviewer of an overdue open task, and returns how many", async () => {
    const user = await skygear.auth.signupAnonymously();
    const Task = skygear.Record.extend("task");
    const reviewer = new skygear.Reference(`user/${user._id}`);
    const late = {
      title: "Overdue invoice",
      status: "open",
      reviewer,
      due: new Date("2026-01-01T00:00:00Z"),
    };
    await skygear.publicDB.save(new Task(late));
    await skygear.publicDB.save(new Task({ ...late, title: "Late contract" }));
    await skygear.publicDB.save(
      new Task({ ...late, title: "Not yet due", due: new Date("2027-01-01T00:00:00Z") }),
    );
    await skygear.publicDB.save(new Task({ ...late, title: "Done already", status: "done" }));
    const { runId } = await daemon.engine.trigger("overdue-reminder", {
      scheduled_at: "2026-06-01T08:00:00Z",
    });
    const run = await daemon.engine.waitForRun(runId, 30_000);
    expect(run.status).toBe("succeeded");
    expect((run.snapshot as { output: unknown }).output).toEqual({ reminded: 2 });
    const texts = (await listPushes(db.pool, "app_skyflow")).map((p) => JSON.stringify(p));
    const sent = texts.filter((t) => t.includes(user._id) && t.includes("is overdue"));
    expect(sent.filter((t) => t.includes("Overdue invoice is overdue"))).toHaveLength(1);
    expect(sent.filter((t) => t.includes("Late contract is overdue"))).toHaveLength(1);
    expect(sent.some((t) => t.includes("Not yet due") || t.includes("Done already"))).toBe(false);
    expect(run.tries.filter((t) => t.kind === "push").map((t) => t.stepKey)).toEqual(
      expect.arrayContaining(["remind[0].tell", "remind[1].tell"]),
    );
  });

  it("goes on after the database drops every one of the daemon's connections (as in a database restart)", async () => {
    // The engine's LISTEN, the record trigger's, the pubsub leader's session and the pool's clients.
    expect(await terminateBackends(db.pool)).toBeGreaterThanOrEqual(3);
    const Task = skygear.Record.extend("task");
    const task = await eventually(() =>
      skygear.publicDB.save(new Task({ title: "After the restart", status: "open" })).catch(() => undefined),
    );
    await message("task-events", (d) => d.id === task.id && d.op === "create");
    // The pubsub leader took its channels again.
    const found = await eventually(async () => {
      await pubsub.publish("find-task", { id: task.id });
      return eventuallyOnce("find-task-result", (d) => d.id === task.id);
    });
    expect(found).toMatchObject({ count: 1, title: "After the restart" });
  });
});
