// wait_for inside foreach items and parallel branches, through the real engine and record trigger against the
// Skygear-compatible server: each waiting inner step has its own row in skyflow.waits (found by the same
// lookup as a top-level wait), the run parks once every item in flight waits, records release the items they
// match, the others time out, and an approval written while the run still executes or while no engine runs
// is not missed.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runDetail } from "../../../src/http/runs-api.js";
import { type Harness, input, startHarness, until } from "./inner-harness.js";

const REMIND = `name: remind
on: { call: {} }
steps:
  - id: remind
    foreach: \${{ event.input.tasks }}
    item: task
    concurrency: 3
    steps:
      - id: approval
        wait_for:
          record: { type: approval, events: [create] }
          match: \${{ incoming.record.task == task._id && incoming.record.ok }}
          timeout: 6s
      - id: seen
        sql:
          statement: SELECT $1::text AS task, $2::boolean AS timed_out
          params: ["\${{ task._id }}", "\${{ steps.approval.output.timed_out }}"]
`;
// One branch runs (a slow statement) while the other waits: the run stays live meanwhile.
const BUSY = `name: busy
on: { call: {} }
steps:
  - id: fan
    parallel:
      slow:
        - sql: { statement: "SELECT pg_sleep($1::float8)", params: ["\${{ event.input.secs }}"] }
      wait:
        - id: ack
          wait_for:
            record: { type: ack, events: [create] }
            match: \${{ incoming.record.run == run.id }}
            timeout: 20s
`;

let h: Harness;

beforeAll(async () => {
  h = await startHarness("park_inner_wait", [REMIND, BUSY]);
  await h.engine("one");
  await h.trigger();
});
afterAll(async () => {
  await h?.close();
});

describe("wait_for inside a foreach", () => {
  it("parks with a row per waiting item, releases the items records match, times out the rest", async () => {
    const e = h.engines[0]!;
    const tasks = ["t0", "t1", "t2", "t3"].map((id) => ({ _id: id }));
    const { runId } = await e.trigger("remind", input({ tasks }));
    const parked = await until(
      () => h.row(runId),
      (r) => r?.status === "waiting",
    );
    // Three items in flight (concurrency 3), each waiting with its own row and key; no engine holds the run.
    expect(parked.lease_owner).toBeNull();
    const inner = (parked.wait as { inner: { step: string; kind: string }[] }).inner;
    expect(inner.map((w) => w.step).sort()).toEqual([
      "remind[0].approval",
      "remind[1].approval",
      "remind[2].approval",
    ]);
    expect(await h.waits(runId)).toEqual([
      { step_key: "remind[0].approval", key: '"t0"', inner_step: true, event: null },
      { step_key: "remind[1].approval", key: '"t1"', inner_step: true, event: null },
      { step_key: "remind[2].approval", key: '"t2"', inner_step: true, event: null },
    ]);
    // The runs API shows what each inner step waits for.
    const detail = await runDetail(h.db.pool, runId, []);
    expect(detail?.wait).toMatchObject({ kind: "wait_for", source: "record:approval" });
    // The lookup of the inner step runs.wait names: its item's task.
    const named = detail!.wait!.step.replace(/^remind\[(\d)\]\.approval$/, '"t$1"');
    expect(detail?.wait?.lookup).toBe(`incoming.record.task == ${named}`);
    expect(detail?.wait?.inner).toHaveLength(3);
    expect(detail?.steps["remind[1].approval"]).toMatchObject({
      status: "running",
      park: { kind: "wait_for", source: "record:approval" },
    });

    // t0 approved, t2's approval is not ok (the rest of the match filters it), t2 then approved.
    await h.save([{ _id: "approval/a0", task: "t0", ok: true }]);
    await h.save([{ _id: "approval/a2x", task: "t2", ok: false }]);
    await h.save([{ _id: "approval/a2", task: "t2", ok: true }]);
    // Item 3 starts once an item is done, and waits too.
    await until(
      () => h.waits(runId),
      (ws) => ws.some((w) => w.step_key === "remind[3].approval"),
    );
    await h.save([{ _id: "approval/a3", task: "t3", ok: true }]);
    const run = await e.waitForRun(runId, 30_000);
    expect(run.status).toBe("succeeded");
    const out = run.tries.find((t) => t.stepKey === "remind")!.output as {
      items: { approval: { event: { record: { _id: string } } | null; timed_out: boolean } }[];
    };
    expect(out.items.map((i) => i.approval.event?.record._id ?? null)).toEqual([
      "approval/a0",
      null,
      "approval/a2",
      "approval/a3",
    ]);
    expect(out.items.map((i) => i.approval.timed_out)).toEqual([false, true, false, false]);
    // Later inner steps saw their item's outcome.
    const seen = run.tries.filter((t) => t.stepKey.endsWith(".seen")).map((t) => t.output);
    expect(seen).toContainEqual({ rows: [{ task: "t1", timed_out: true }], row_count: 1 });
    // Each wait is one try, however often the run parked and resumed; its rows are gone with the foreach.
    const waitTries = run.tries.filter((t) => t.stepKey.endsWith(".approval"));
    expect(waitTries.map((t) => `${t.stepKey}#${t.attempt}`).sort()).toEqual([
      "remind[0].approval#1",
      "remind[1].approval#1",
      "remind[2].approval#1",
      "remind[3].approval#1",
    ]);
    expect(await h.waits(runId)).toEqual([]);
  }, 60_000);
});

describe("wait_for inside a parallel branch", () => {
  it("takes an event that arrives while another branch still runs (the run never parked)", async () => {
    const e = h.engines[0]!;
    const { runId } = await e.trigger("busy", input({ secs: 3 }));
    await until(
      () => h.waits(runId),
      (ws) => ws.length === 1,
    );
    expect((await h.row(runId)).status).toBe("running");
    await h.save([{ _id: "ack/k1", run: runId }]);
    // Released onto its row while the run executes the other branch.
    const ws = await until(
      () => h.waits(runId),
      (w) => w[0]?.event !== null,
    );
    expect(ws[0]!.event).toMatchObject({ record: { _id: "ack/k1" } });
    const run = await e.waitForRun(runId, 30_000);
    expect(run.status).toBe("succeeded");
    expect(run.tries.find((t) => t.stepKey === "fan.wait.ack")!.output).toMatchObject({
      timed_out: false,
      event: { record: { _id: "ack/k1" } },
    });
  }, 40_000);
});
