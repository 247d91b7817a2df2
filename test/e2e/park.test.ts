// End to end: `skyflow dev` with workflows that park. Requests saved through the official Skygear SDK wait for
// an approval record (wait_for with a timeout) and a nap sleeps; the process is SIGKILLed while they wait,
// one approval is written while no engine runs, and a restarted `skyflow dev` releases the approved runs,
// times out the other one, and wakes the sleeper. A call step starts a child workflow and reads its output.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TestDatabase } from "../helpers/db.js";
import { saveRecord } from "../helpers/sdk.js";
import { type Child, eventually } from "./child.js";
import { type DevProject, devProject, signUpWithSdk } from "./dev-project.js";

const APPROVAL = `name: approval
on:
  record: { type: request, events: [create] }
steps:
  - id: decision
    wait_for:
      record: { type: approval, events: [create] }
      match: \${{ incoming.record.request == event.record._id && incoming.record.ok }}
      timeout: 40s # long enough for a loaded machine to approve two before the kill
  - id: note
    sql:
      statement: SELECT $1::text AS request, $2::boolean AS timed_out
      params: ["\${{ event.record._id }}", "\${{ steps.decision.output.timed_out }}"]
`;
const NAP = `name: nap
on:
  record: { type: nap, events: [create] }
steps:
  - id: zz
    sleep: 6s
`;
const DIGEST = `name: digest
on:
  record: { type: member, events: [create] }
steps:
  - id: members
    query: { type: member, limit: 10 }
  - id: each
    foreach: \${{ steps.members.output.records }}
    item: m
    concurrency: 3
    steps:
      - id: build
        call:
          workflow: build-digest
          input: { user: "\${{ m._id }}" }
  - id: read
    sql:
      statement: SELECT $1::text AS lines
      params: ["\${{ steps.each.output.items.map(i, i.build.line).join(',') }}"]
`;
const BUILD = `name: build-digest
on: { call: {} }
steps:
  - id: compose
    sql:
      statement: SELECT 'digest for ' || $1::text AS line
      params: ["\${{ event.input.user }}"]
output: "\${{ {'line': steps.compose.output.rows[0].line} }}"
`;

let project: DevProject;
let db: TestDatabase;
let child: Child;
const launch = () => project.launch();

beforeAll(async () => {
  project = await devProject("e2e_park", {
    approval: APPROVAL,
    nap: NAP,
    digest: DIGEST,
    "build-digest": BUILD,
  });
  db = project.db;
  child = await launch();
  await signUpWithSdk(project);
}, 90_000);

afterAll(() => project?.remove(child));

const save = saveRecord;

async function runsOf(workflow: string) {
  const { rows } = await db.pool.query<{ id: string; status: string; key: string }>(
    `SELECT id, status, event->'record'->>'_id' AS key FROM skyflow.runs WHERE workflow = $1 ORDER BY created_at`,
    [workflow],
  );
  return rows;
}

async function output(runId: string, step: string): Promise<unknown> {
  const { rows } = await db.pool.query(
    "SELECT output FROM skyflow.step_tries WHERE run_id = $1 AND step_key = $2 AND status = 'succeeded'",
    [runId, step],
  );
  return rows[0]?.output;
}

describe("skyflow dev: parked runs", () => {
  it("wait_for and sleep survive a SIGKILL: approved runs are released, one times out, the nap wakes", async () => {
    const requests = [await save("request", {}), await save("request", {}), await save("request", {})];
    await save("nap", {});
    await eventually(async () => {
      const rs = await runsOf("approval");
      const nap = await runsOf("nap");
      return rs.length === 3 && rs.every((r) => r.status === "waiting") && nap[0]?.status === "sleeping"
        ? true
        : undefined;
    }, 30_000);
    // One approval before the kill; a non-matching one (ok false) for the third request.
    await save("approval", { request: requests[0]!.id, ok: true });
    await save("approval", { request: requests[2]!.id, ok: false });
    child.proc.kill("SIGKILL");
    await child.exited;
    // While no engine runs: the application approves the second request.
    await db.pool.query(
      `INSERT INTO app_skyflow.approval (_id, _database_id, _owner_id, _created_at, _created_by, _updated_at,
         _updated_by, request, ok)
       VALUES ('a-offline', '', 'u1', now(), 'u1', now(), 'u1', $1, true)`,
      [requests[1]!.id],
    );
    child = await launch();
    const byKey = async () => new Map((await runsOf("approval")).map((r) => [r.key, r]));
    const done = await eventually(async () => {
      const m = await byKey();
      return [...m.values()].every((r) => r.status === "succeeded") ? m : undefined;
    }, 60_000);
    const out = async (i: number) =>
      (await output(done.get(requests[i]!.id)!.id, "decision")) as { timed_out: boolean; event: unknown };
    const first = await out(0);
    expect(first.timed_out).toBe(false);
    expect((first.event as { record: { request: string } }).record.request).toBe(requests[0]!.id);
    expect((await out(1)).timed_out).toBe(false);
    expect(await out(2)).toEqual({ event: null, timed_out: true });
    expect(await output(done.get(requests[2]!.id)!.id, "note")).toMatchObject({
      rows: [{ request: requests[2]!.id, timed_out: true }],
    });
    const nap = await eventually(async () => {
      const [r] = await runsOf("nap");
      return r?.status === "succeeded" ? r : undefined;
    }, 30_000);
    expect(((await output(nap.id, "zz")) as { slept_ms: number }).slept_ms).toBeGreaterThanOrEqual(5900);
    const { rows } = await db.pool.query("SELECT count(*)::int AS n FROM skyflow.waits");
    expect(rows[0].n).toBe(0);
  }, 150_000);

  it("a foreach calls a child workflow per record, three at a time, and reads each child's output", async () => {
    await save("member", {});
    await save("member", {});
    const user = await save("member", {});
    const done = await eventually(async () => {
      const rs = await runsOf("digest");
      const r = rs.find((x) => x.key === user.id);
      return r?.status === "succeeded" || r?.status === "failed" ? r : undefined;
    }, 60_000);
    expect(done.status).toBe("succeeded");
    const out = (await output(done.id, "read")) as { rows: { lines: string }[] };
    const lines = out.rows[0]!.lines.split(",");
    expect(lines).toContain(`digest for ${user.id}`);
    expect(lines.every((l) => l.startsWith("digest for member/"))).toBe(true);
    expect(lines).toHaveLength(3);
    const { rows } = await db.pool.query(
      "SELECT status, event FROM skyflow.runs WHERE workflow = 'build-digest' AND parent_id = $1",
      [done.id],
    );
    expect(rows).toHaveLength(lines.length);
    expect(rows.every((r) => r.status === "succeeded" && r.event.parent.workflow === "digest")).toBe(true);
  }, 90_000);
});
