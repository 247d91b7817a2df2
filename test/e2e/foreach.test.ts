// End to end: `skyflow dev` runs a foreach with concurrency over query results, each item calling a child
// workflow and reading its output, then a parallel; the process is SIGKILLed mid-foreach and a restarted
// `skyflow dev` finishes the run: finished items and inner steps are not run again (each item's insert is
// there once, with the uuid() it had), and the run's output is the top-level `output`.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TestDatabase } from "../helpers/db.js";
import { saveRecord } from "../helpers/sdk.js";
import { type Child, eventually } from "./child.js";
import { type DevProject, devProject, signUpWithSdk } from "./dev-project.js";

const FANOUT = `name: fanout
on:
  record: { type: batch, events: [create] }
steps:
  - id: items
    query: { type: job, where: { batch: "\${{ event.record.name }}" }, sort: [n] }
  - id: each
    foreach: \${{ steps.items.output.records }}
    item: job
    concurrency: 3
    steps:
      - id: label
        call:
          workflow: label-job
          input: { n: "\${{ job.n }}" }
      - id: record
        sql:
          statement: INSERT INTO public.fe_log (n, label, u) SELECT $1::int, $2::text, $3::uuid FROM pg_sleep(0.3) RETURNING n
          params: ["\${{ job.n }}", "\${{ steps.label.output.rows[0].label }}", "\${{ uuid() }}"]
  - id: fan
    parallel:
      left:
        - id: lsum
          sql: { statement: "SELECT count(*)::int AS n FROM public.fe_log" }
      right:
        - id: rmax
          sql: { statement: "SELECT max(n)::int AS n FROM public.fe_log" }
output: "\${{ {'labels': steps.each.output.items.map(i, i.label.rows[0].label), 'count': steps.fan.output.left.lsum.rows[0].n} }}"
`;
const LABEL = `name: label-job
on: { call: {} }
steps:
  - id: make
    sql:
      statement: SELECT 'job-' || $1::text AS label
      params: ["\${{ string(int(event.input.n)) }}"]
`;

let project: DevProject;
let db: TestDatabase;
let child: Child;
const launch = () => project.launch();

beforeAll(async () => {
  project = await devProject("e2e_foreach", { fanout: FANOUT, "label-job": LABEL });
  db = project.db;
  await db.pool.query(
    "CREATE TABLE public.fe_log (n int NOT NULL, label text NOT NULL, u uuid NOT NULL UNIQUE)",
  );
  child = await launch();
  await signUpWithSdk(project);
}, 90_000);

afterAll(() => project?.remove(child));

const save = saveRecord;

const count = async () =>
  (await db.pool.query("SELECT count(*)::int AS n FROM public.fe_log")).rows[0].n as number;

describe("skyflow dev: foreach and parallel", () => {
  it("survives a SIGKILL mid-foreach: only unfinished items and inner steps run again", async () => {
    const N = 9;
    for (let n = 1; n <= N; n++) await save("job", { batch: "b1", n });
    await save("batch", { name: "b1" });
    // Some items are done, others not yet.
    await eventually(async () => ((await count()) >= 2 ? true : undefined), 60_000).catch(async (err) => {
      const runs = await db.pool.query("SELECT workflow, status, error FROM skyflow.runs");
      throw new Error(`${err}: ${JSON.stringify(runs.rows)} ${child.output().slice(-3000)}`);
    });
    child.proc.kill("SIGKILL");
    await child.exited;
    const before = await db.pool.query<{ u: string; n: number }>("SELECT n, u FROM public.fe_log");
    expect(before.rows.length).toBeLessThan(N);
    child = await launch();
    const run = await eventually(async () => {
      const { rows } = await db.pool.query(
        "SELECT id, status, snapshot FROM skyflow.runs WHERE workflow = 'fanout'",
      );
      return rows[0]?.status === "succeeded" || rows[0]?.status === "failed" ? rows[0] : undefined;
    }, 90_000);
    expect(run.status).toBe("succeeded");
    // Each item's insert once: the sql step commits with the record of its try, so a resumed item does
    // not insert again, and the rows written before the kill are still there with their uuid().
    const after = await db.pool.query<{ n: number; label: string; u: string }>(
      "SELECT n, label, u FROM public.fe_log ORDER BY n",
    );
    expect(after.rows.map((r) => r.n)).toEqual(Array.from({ length: N }, (_, i) => i + 1));
    expect(after.rows.map((r) => r.label)).toEqual(after.rows.map((r) => `job-${r.n}`));
    for (const b of before.rows) expect(after.rows.find((r) => r.n === b.n)!.u).toBe(b.u);
    // One child run per item, none started twice by the resume.
    const children = await db.pool.query(
      "SELECT count(*)::int AS n FROM skyflow.runs WHERE workflow = 'label-job' AND parent_id = $1",
      [run.id],
    );
    expect(children.rows[0].n).toBe(N);
    expect(run.snapshot.output).toEqual({
      labels: Array.from({ length: N }, (_, i) => `job-${i + 1}`),
      count: N,
    });
  }, 240_000);
});
