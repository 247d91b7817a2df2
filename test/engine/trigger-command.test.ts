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
  db = await createTestDatabase("trigger_command");
  dir = await mkdtemp(join(tmpdir(), "skyflow-trigger-"));
  await writeFile(
    join(dir, "greet.yaml"),
    [
      "on: { pubsub: { channel: hello } }",
      "steps:",
      "  - id: echo",
      "    sql:",
      "      statement: SELECT $1::text AS greeting",
      '      params: ["${{ event.greeting }}"]',
      "  - id: note",
      "    save:",
      "      as: master",
      "      record: { _id: 'note/${{ uuid() }}', text: '${{ steps.echo.output.rows[0].greeting }}' }",
      "",
    ].join("\n"),
  );
  await writeFile(
    join(dir, "broken.yaml"),
    [
      "on: { pubsub: { channel: hello } }",
      "steps:",
      "  - id: bad",
      "    sql: { statement: SELEC 1 }",
      "",
    ].join("\n"),
  );
  await writeFile(join(dir, "event.json"), JSON.stringify({ greeting: "hi there" }));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
  await db.drop();
});

const trigger = (argv: string[]) =>
  runCommand(command, argv, { DATABASE_URL: db.url, SKYGEAR_APP_NAME: "triggertest" }, dir);

describe("skyflow trigger", () => {
  it("runs a workflow with the event file, prints its step timeline and exits 0", async () => {
    const r = await trigger(["greet", "--event", "event.json", "--dir", "."]);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(r.out).toContain("succeeded");
    expect(r.out).toContain("echo");
    expect(r.out).toContain("note");
    const { rows } = await db.pool.query("SELECT text FROM app_triggertest.note");
    expect(rows).toEqual([{ text: "hi there" }]);
  });

  it("exits 1 and shows the error when the run fails", async () => {
    const r = await trigger(["broken", "--dir", "."]);
    expect(r.code).toBe(1);
    expect(r.out).toContain("SqlError");
  });

  it("exits 2 for an unknown workflow", async () => {
    const r = await trigger(["nope", "--dir", "."]);
    expect(r.code).toBe(2);
    expect(r.err).toContain('no valid workflow named "nope"');
  });

  it("exits 2 for an event file that is not valid JSON, naming the line and column", async () => {
    await writeFile(join(dir, "bad.json"), '{\n  "greeting": "hi",\n}\n');
    const r = await trigger(["greet", "--event", "bad.json", "--dir", "."]);
    expect(r.code).toBe(2);
    expect(r.err).toContain("--event bad.json: line 3, column 1:");
  });

  it("exits 2 for an event whose id or at has the wrong type, naming the field", async () => {
    await writeFile(join(dir, "id.json"), JSON.stringify({ id: 42 }));
    const id = await trigger(["greet", "--event", "id.json", "--dir", "."]);
    expect(id.code).toBe(2);
    expect(id.err).toContain("event.id: expected a non-empty string, got 42");
    await writeFile(join(dir, "at.json"), JSON.stringify({ at: "yesterday" }));
    const at = await trigger(["greet", "--event", "at.json", "--dir", "."]);
    expect(at.code).toBe(2);
    expect(at.err).toContain(
      'event.at: expected an ISO time such as "2026-01-01T09:00:00Z", got "yesterday"',
    );
  });
});
