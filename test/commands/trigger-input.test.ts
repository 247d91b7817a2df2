// `skyflow trigger <workflow> --input file.json`: the run starts as a call would (event.type call,
// event.input the file), and the one-off engine also executes the child runs it calls, reading their output.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { command } from "../../src/commands/trigger.js";
import { runCommand } from "../helpers/command.js";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";

let db: TestDatabase;
let dir: string;

beforeAll(async () => {
  db = await createTestDatabase("trigger_input");
  dir = await mkdtemp(join(tmpdir(), "skyflow-trigger-input-"));
  await writeFile(
    join(dir, "outer.yaml"),
    [
      "on: { call: {} }",
      "steps:",
      "  - id: inner",
      "    call: { workflow: inner, input: { n: '${{ event.input.n }}' } }",
      "  - id: show",
      "    sql:",
      "      statement: SELECT $1::text AS got, $2::text AS kind",
      "      params: ['${{ steps.inner.output.rows[0].doubled }}', '${{ event.type }}']",
      "",
    ].join("\n"),
  );
  await writeFile(
    join(dir, "inner.yaml"),
    "on: { call: {} }\nsteps:\n  - sql: { statement: 'SELECT ($1::int * 2)::text AS doubled', params: ['${{ event.input.n }}'] }\n",
  );
  await writeFile(join(dir, "input.json"), JSON.stringify({ n: 21 }));
  await writeFile(join(dir, "bad.json"), "{ n: ");
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
  await db.drop();
});

const trigger = (argv: string[]) =>
  runCommand(command, argv, { DATABASE_URL: db.url, SKYGEAR_APP_NAME: "triggerinput" }, dir);

describe("skyflow trigger --input", () => {
  it("starts the workflow as a call with event.input, and executes the run it calls", async () => {
    const r = await trigger(["outer", "--input", "input.json", "--dir", "."]);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(r.out).toContain('"got":"42"');
    expect(r.out).toContain('"kind":"call"');
    const { rows } = await db.pool.query(
      "SELECT status, event->'input' AS input FROM skyflow.runs WHERE workflow = 'inner'",
    );
    expect(rows).toEqual([{ status: "succeeded", input: { n: 21 } }]);
  }, 60_000);

  it("refuses an input file that is not JSON, and --event with --input", async () => {
    const bad = await trigger(["outer", "--input", "bad.json", "--dir", "."]);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/--input bad.json: line 1, column \d+/);
    const both = await trigger(["outer", "--input", "input.json", "--event", "input.json", "--dir", "."]);
    expect(both.code).toBe(2);
    expect(both.err).toContain("not both");
  });
});
