// sleep and call inside parallel branches and foreach items park the run once nothing else in it can run:
// the run row says sleeping or waiting with no lease and no engine holds it; it wakes at the earliest due
// time or when a child ends, and the inner steps not yet over park again with their first times. Cancelling
// a run that waits inside a foreach, parked or live, removes its waits.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { formatRunTimeline } from "../../../src/commands/runs-format.js";
import { getRun } from "../../../src/engine/store/inspect.js";
import { cancelAction } from "../../../src/http/actions.js";
import { type Harness, input, startHarness, until } from "./inner-harness.js";

const NAPS = `name: naps
on: { call: {} }
steps:
  - id: fan
    parallel:
      short:
        - id: a
          sleep: 1500ms
      long:
        - id: b
          sleep: 3s
        - id: after
          sql: { statement: "SELECT 1 AS one" }
`;
const NESTED = `name: nested
on: { call: {} }
steps:
  - id: outer
    foreach: \${{ [1, 2] }}
    concurrency: 2
    steps:
      - id: inner
        parallel:
          x:
            - id: nap
              sleep: 1s
          y:
            - id: q
              sql: { statement: "SELECT 1 AS one" }
`;
const FANOUT = `name: fanout
on: { call: {} }
steps:
  - id: each
    foreach: \${{ [1, 2, 3] }}
    concurrency: 3
    steps:
      - id: c
        call: { workflow: kid, input: { n: "\${{ item }}" } }
`;
const KID = `name: kid
on: { call: {} }
steps:
  - sleep: 1s
  - id: out
    sql: { statement: "SELECT $1::int * 10 AS n", params: ["\${{ event.input.n }}"] }
`;
const HOLD = `name: hold
on: { call: {} }
steps:
  - id: each
    foreach: \${{ event.input.tasks }}
    item: task
    concurrency: 2
    steps:
      - id: w
        wait_for:
          record: { type: nod, events: [create] }
          match: \${{ incoming.record.task == task }}
          timeout: 60s
  - sql: { statement: "SELECT 1" }
`;
const HOLDLIVE = `name: holdlive
on: { call: {} }
steps:
  - id: fan
    parallel:
      slow:
        - sql: { statement: "SELECT pg_sleep(20)" }
      wait:
        - wait_for:
            record: { type: nod, events: [create] }
            match: \${{ incoming.record.task == run.id }}
            timeout: 60s
`;

const BUSY = `name: busy
on: { call: {} }
steps:
  - sql: { statement: "SELECT pg_sleep(20)" }
`;

let h: Harness;

beforeAll(async () => {
  h = await startHarness("park_inner_sleep_call", [NAPS, NESTED, FANOUT, KID, HOLD, HOLDLIVE, BUSY]);
  await h.engine("one");
  await h.trigger();
});
afterAll(async () => {
  await h?.close();
});

const dueAt = async (id: string) =>
  (await h.db.pool.query("SELECT available_at FROM skyflow.runs WHERE id = $1", [id])).rows[0]
    .available_at as Date;

describe("sleep inside parallel branches", () => {
  it("parks the run until the first is due, wakes it, and parks it again for the second", async () => {
    const e = h.engines[0]!;
    const { runId } = await e.trigger("naps", input({}));
    const parked = await until(
      () => h.row(runId),
      (r) => r?.status === "sleeping",
    );
    expect(parked.lease_owner).toBeNull();
    expect(e.inFlight()).toBe(0);
    const inner = (parked.wait as { inner: { step: string; until: string }[] }).inner;
    expect(inner.map((w) => w.step).sort()).toEqual(["fan.long.b", "fan.short.a"]);
    const a = inner.find((w) => w.step === "fan.short.a")!;
    const b = inner.find((w) => w.step === "fan.long.b")!;
    // Due when `a` is (the engine's clock times inner waits; the run is due on the database's, a moment apart).
    expect(Math.abs((await dueAt(runId)).getTime() - Date.parse(a.until))).toBeLessThan(1000);
    // `skyflow runs show` lists what each inner step waits for.
    const shown = formatRunTimeline((await getRun(h.db.pool, runId))!);
    expect(shown).toContain(`waits     step fan.short.a: sleep until ${a.until}`);
    expect(shown).toContain(`waits     step fan.long.b: sleep until ${b.until}`);
    // Woken for `a`, parked again for `b`, with b's first due time (not restarted).
    const again = await until(
      async () => ({ r: await h.row(runId), due: await dueAt(runId) }),
      (v) => v.r?.status === "sleeping" && (v.r.wait as { step?: string } | null)?.step === "fan.long.b",
    );
    expect(Math.abs(again.due.getTime() - Date.parse(b.until))).toBeLessThan(1000);
    expect((again.r.wait as { inner: unknown[] }).inner).toEqual([b]);
    const run = await e.waitForRun(runId, 30_000);
    expect(run.status).toBe("succeeded");
    const of = (k: string) => run.tries.filter((t) => t.stepKey === k);
    expect(of("fan.short.a").map((t) => [t.attempt, t.output])).toEqual([[1, { slept_ms: 1500 }]]);
    expect(of("fan.long.b").map((t) => [t.attempt, t.output])).toEqual([[1, { slept_ms: 3000 }]]);
    expect(of("fan.long.after")).toHaveLength(1);
    const { rows } = await h.db.pool.query(
      `SELECT extract(epoch FROM finished_at - started_at) * 1000 AS ms FROM skyflow.step_tries
       WHERE run_id = $1 AND step_key = 'fan.long.b'`,
      [runId],
    );
    expect(Number(rows[0].ms)).toBeGreaterThanOrEqual(2900);
  }, 40_000);
});

describe("sleep inside a parallel inside a foreach item", () => {
  it("parks, and resumed, every container's try goes on: one try each, none left running", async () => {
    const e = h.engines[0]!;
    const { runId } = await e.trigger("nested", input({}));
    await until(
      () => h.row(runId),
      (r) => r?.status === "sleeping",
    );
    const run = await e.waitForRun(runId, 30_000);
    expect(run.status).toBe("succeeded");
    expect(run.tries.map((t) => `${t.stepKey}#${t.attempt}:${t.status}`).sort()).toEqual([
      "outer#1:succeeded",
      "outer[0].inner#1:succeeded",
      "outer[0].inner.x.nap#1:succeeded",
      "outer[0].inner.y.q#1:succeeded",
      "outer[1].inner#1:succeeded",
      "outer[1].inner.x.nap#1:succeeded",
      "outer[1].inner.y.q#1:succeeded",
    ]);
  }, 30_000);
});

describe("call inside a foreach", () => {
  it("parks the caller while its children run and resumes it as they end, with their outputs", async () => {
    const e = h.engines[0]!;
    const { runId } = await e.trigger("fanout", input({}));
    const parked = await until(
      () => h.row(runId),
      (r) => r?.status === "waiting",
    );
    expect(parked.lease_owner).toBeNull();
    const w = parked.wait as { kind: string; children: string[]; inner: unknown[] };
    expect(w.kind).toBe("call");
    expect(w.children).toHaveLength(3);
    const { rows: kids } = await h.db.pool.query(
      "SELECT id FROM skyflow.runs WHERE parent_id = $1 AND workflow = 'kid' ORDER BY id",
      [runId],
    );
    expect(kids.map((k) => k.id)).toEqual([...w.children].sort());
    const run = await e.waitForRun(runId, 30_000);
    expect(run.status).toBe("succeeded");
    const out = run.tries.find((t) => t.stepKey === "each")!.output as {
      items: { c: { rows: { n: number }[] } }[];
    };
    expect(out.items.map((i) => i.c.rows[0]!.n)).toEqual([10, 20, 30]);
    expect(run.tries.filter((t) => /^each\[\d\]\.c$/.test(t.stepKey)).every((t) => t.attempt === 1)).toBe(
      true,
    );
  }, 40_000);
});

describe("cancelling a run that waits inside a foreach", () => {
  it("a live run that began no wait is cancelled without a statement on skyflow.waits", async () => {
    const pool = h.db.pool;
    await pool.query(`CREATE TABLE public.waits_statements (n int NOT NULL);
      INSERT INTO public.waits_statements VALUES (0);
      CREATE FUNCTION public.count_waits_statement() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN UPDATE public.waits_statements SET n = n + 1; RETURN NULL; END $$;
      CREATE TRIGGER count_waits_statement AFTER DELETE ON skyflow.waits
        FOR EACH STATEMENT EXECUTE FUNCTION public.count_waits_statement()`);
    const statements = async () => (await pool.query("SELECT n FROM public.waits_statements")).rows[0].n;
    try {
      const e = h.engines[0]!;
      const { runId } = await e.trigger("busy", input({}));
      await until(
        () => h.row(runId),
        (r) => r?.status === "running",
      );
      const ended = new Promise<void>((resolve) =>
        e.on("run", (ev) => ev.runId === runId && ev.type === "cancelled" && resolve()),
      );
      expect(await cancelAction(pool, e, runId, "test")).toMatchObject({ ok: true });
      await ended;
      expect((await h.row(runId)).status).toBe("cancelled");
      expect(await statements()).toBe(0);
    } finally {
      await pool.query(`DROP TRIGGER count_waits_statement ON skyflow.waits;
        DROP FUNCTION public.count_waits_statement(); DROP TABLE public.waits_statements`);
    }
  }, 30_000);

  it("parked: the run is cancelled and every one of its waits removed", async () => {
    const e = h.engines[0]!;
    const { runId } = await e.trigger("hold", input({ tasks: ["h1", "h2"] }));
    await until(
      () => h.row(runId),
      (r) => r?.status === "waiting",
    );
    expect(await h.waits(runId)).toHaveLength(2);
    expect(await cancelAction(h.db.pool, e, runId, "test")).toMatchObject({ ok: true });
    expect((await h.row(runId)).status).toBe("cancelled");
    expect(await h.waits(runId)).toEqual([]);
    // A nod now releases nothing.
    await h.save([{ _id: "nod/n1", task: "h1" }]);
    await new Promise((r) => setTimeout(r, 500));
    expect((await h.row(runId)).status).toBe("cancelled");
  }, 30_000);

  it("live (another branch running): the engine cancels it and its waits go with it", async () => {
    const e = h.engines[0]!;
    const { runId } = await e.trigger("holdlive", input({}));
    await until(
      () => h.waits(runId),
      (ws) => ws.length === 1,
    );
    expect((await h.row(runId)).status).toBe("running");
    expect(await cancelAction(h.db.pool, e, runId, "test")).toMatchObject({ ok: true });
    const r = await until(
      async () => ({ row: await h.row(runId), waits: await h.waits(runId) }),
      (v) => v.row.status === "cancelled" && v.waits.length === 0,
    );
    expect(r.row.status).toBe("cancelled");
    expect(r.waits).toEqual([]);
  }, 30_000);
});
