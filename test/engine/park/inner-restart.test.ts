// Inner waits across engines: a run parked inside a foreach is released by a change written while no engine
// ran, on the engine started next; a run stopped while one branch still ran resumes with its wait's row and
// takes the event that arrived meanwhile; with two engines polling, each inner timeout fires once.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Harness, input, startHarness, until } from "./inner-harness.js";

const PAIR = `name: pair
on: { call: {} }
steps:
  - id: each
    foreach: \${{ event.input.tasks }}
    item: task
    concurrency: 2
    steps:
      - id: ok
        wait_for:
          record: { type: okay, events: [create] }
          match: \${{ incoming.record.task == task._id }}
          timeout: 6s
`;
const LIVE = `name: live
on: { call: {} }
steps:
  - id: fan
    parallel:
      slow:
        - sql: { statement: "SELECT pg_sleep(3)" }
      wait:
        - id: ack
          wait_for:
            record: { type: okay, events: [create] }
            match: \${{ incoming.record.task == run.id }}
            timeout: 30s
`;
const ONCE = `name: once
on: { call: {} }
steps:
  - id: each
    foreach: \${{ [1, 2] }}
    concurrency: 2
    steps:
      - id: w
        wait_for:
          record: { type: never, events: [create] }
          match: \${{ incoming.record.run == run.id }}
          timeout: 1500ms
      - sql:
          statement: INSERT INTO after_timeout (run_id, item, timed_out) VALUES ($1::uuid, $2::int, $3::boolean)
          params: ["\${{ run.id }}", "\${{ item }}", "\${{ steps.w.output.timed_out }}"]
`;

let h: Harness;

beforeAll(async () => {
  h = await startHarness("park_inner_restart", [PAIR, LIVE, ONCE]);
});
afterAll(async () => {
  await h?.close();
});

/** Stops every engine and trigger started so far. */
async function stopAll(): Promise<void> {
  for (const t of h.triggers.splice(0)) await t.stop();
  for (const e of h.engines.splice(0)) await e.stop({ graceMs: 0 });
}

describe("inner waits across engines", () => {
  it("a change written while no engine runs releases its item on the next engine; the other times out", async () => {
    const first = await h.engine("first");
    await h.trigger();
    const { runId } = await first.trigger("pair", input({ tasks: [{ _id: "p0" }, { _id: "p1" }] }));
    await until(
      () => h.row(runId),
      (r) => r?.status === "waiting",
    );
    await stopAll();
    await h.save([{ _id: "okay/o0", task: "p0" }]);
    expect((await h.waits(runId)).map((w) => w.event)).toEqual([null, null]);
    const second = await h.engine("second");
    await h.trigger();
    const run = await second.waitForRun(runId, 30_000);
    expect(run.status).toBe("succeeded");
    const out = run.tries.find((t) => t.stepKey === "each")!.output as {
      items: { ok: { event: { record: { _id: string } } | null; timed_out: boolean } }[];
    };
    expect(out.items.map((i) => [i.ok.event?.record._id ?? null, i.ok.timed_out])).toEqual([
      ["okay/o0", false],
      [null, true],
    ]);
    // The timeout counts from the wait's begin on the first engine, not from the restart.
    const t1 = run.tries.find((t) => t.stepKey === "each[1].ok")!;
    expect(t1.attempt).toBe(1);
    await stopAll();
  }, 60_000);

  it("a run stopped while a branch still ran resumes its wait with its row, and takes the event that came", async () => {
    const first = await h.engine("first");
    await h.trigger();
    const { runId } = await first.trigger("live", input({}));
    await until(
      () => h.waits(runId),
      (ws) => ws.length === 1,
    );
    expect((await h.row(runId)).status).toBe("running");
    const began = (
      await h.db.pool.query(
        "SELECT snapshot->'steps'->'fan.wait.ack'->'park'->>'began' AS b FROM skyflow.runs WHERE id = $1",
        [runId],
      )
    ).rows[0].b as string;
    expect(began).toMatch(/^\d{4}-/);
    await stopAll();
    // The trigger is down too: the change waits in its outbox; the next trigger releases the wait's row.
    await h.save([{ _id: "okay/live", task: runId }]);
    const second = await h.engine("second");
    await h.trigger();
    const run = await second.waitForRun(runId, 40_000);
    expect(run.status).toBe("succeeded");
    const acks = run.tries.filter((t) => t.stepKey === "fan.wait.ack");
    // A new try after the stop (the first was interrupted), waiting with the same begin and row.
    expect(acks.map((t) => t.attempt)).toEqual([1, 2]);
    expect(acks[1]!.output).toMatchObject({ timed_out: false, event: { record: { _id: "okay/live" } } });
    expect(await h.waits(runId)).toEqual([]);
    await stopAll();
  }, 60_000);

  it("with two engines polling, each inner timeout fires once", async () => {
    await h.db.pool.query(
      `CREATE TABLE ${h.srv.config.schema}.after_timeout (run_id uuid, item int, timed_out boolean)`,
    );
    const a = await h.engine("a", 50);
    await h.engine("b", 50);
    await h.trigger();
    const ids: string[] = [];
    for (let i = 0; i < 10; i++) ids.push((await a.trigger("once", input({ i }))).runId);
    for (const id of ids) expect((await a.waitForRun(id, 40_000)).status).toBe("succeeded");
    const { rows } = await h.db.pool.query(
      `SELECT run_id, item, count(*)::int AS n, bool_and(timed_out) AS t
       FROM ${h.srv.config.schema}.after_timeout GROUP BY 1, 2`,
    );
    expect(rows).toHaveLength(20);
    expect(rows.every((r) => r.n === 1 && r.t === true)).toBe(true);
    const tries = await h.db.pool.query(
      "SELECT step_key, count(*)::int AS n FROM skyflow.step_tries WHERE run_id = ANY($1) AND step_key LIKE 'each[%].w' GROUP BY run_id, step_key",
      [ids],
    );
    expect(tries.rows).toHaveLength(20);
    expect(tries.rows.every((r) => r.n === 1)).toBe(true);
    await stopAll();
  }, 90_000);
});
