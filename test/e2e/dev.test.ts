// End to end: `skyflow dev` as a child process in a temporary directory. A record saved through the official
// Skygear SDK starts the workflow; an edit of the file changes the behaviour; a broken file prints its error
// while the old behaviour continues; SIGTERM exits 0 with no run left unfinished.

import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEV_API_KEY } from "../../src/config.js";
import type { TestDatabase } from "../helpers/db.js";
import { skygear } from "../helpers/sdk.js";
import { type Child, eventually } from "./child.js";
import { type DevProject, devProject, signUpWithSdk } from "./dev-project.js";

const greet = (tag: string) => `name: greet
on:
  record:
    type: note
    events: [create]
steps:
  - id: reply
    save:
      as: master
      record:
        _id: reply/\${{ uuid() }}
        _access: [{ level: read, public: true }]
        note: \${{ event.record._id }}
        text: ${tag} \${{ event.record.title }}
`;

let project: DevProject;
let db: TestDatabase;
let dir: string;
let child: Child;
let port: number;

beforeAll(async () => {
  project = await devProject("e2e_dev", { greet: greet("v1") });
  ({ db, dir, port } = project);
  child = await project.launch(5000);
  await signUpWithSdk(project);
}, 90_000);

afterAll(() => project?.remove(child));

async function replyTo(title: string): Promise<string> {
  const Note = skygear.Record.extend("note");
  const note = await skygear.publicDB.save(new Note({ title }));
  const Reply = skygear.Record.extend("reply");
  return eventually(async () => {
    const q = new skygear.Query(Reply);
    q.equalTo("note", note.id);
    const [reply] = await skygear.publicDB.query(q);
    return reply ? String(reply.text) : undefined;
  });
}

describe("skyflow dev", () => {
  it("prints where the server listens and the development keys", () => {
    expect(child.output()).toContain(`http://127.0.0.1:${port}/`);
    expect(child.output()).toContain(DEV_API_KEY);
  });

  it("runs the workflow for a record saved through the official SDK", async () => {
    expect(await replyTo("first")).toBe("v1 first");
  });

  it("swaps in an edited workflow file", async () => {
    const mark = child.output().length;
    await writeFile(join(dir, "workflows", "greet.yaml"), greet("v2"));
    await child.waitFor("workflow greet reloaded", 10_000, mark);
    expect(await replyTo("second")).toBe("v2 second");
  });

  it("prints a broken file's errors with file:line:column and keeps the last good version", async () => {
    const mark = child.output().length;
    await writeFile(join(dir, "workflows", "greet.yaml"), `${greet("v3")}  - publsh: { channel: x }\n`);
    await child.waitFor(/greet\.yaml:\d+:\d+/, 10_000, mark);
    expect(child.output().slice(mark)).toContain("keeping the last good version of greet");
    expect(await replyTo("third")).toBe("v2 third");
  });

  it("exits 0 on SIGTERM with no run left unfinished", async () => {
    expect(await child.stop("SIGTERM")).toBe(0);
    const { rows } = await db.pool.query(
      "SELECT count(*)::int AS n FROM skyflow.runs WHERE status NOT IN ('succeeded', 'failed', 'cancelled')",
    );
    expect(rows[0].n).toBe(0);
    const done = await db.pool.query(
      "SELECT count(*)::int AS n FROM skyflow.runs WHERE status = 'succeeded'",
    );
    expect(done.rows[0].n).toBe(3);
  });
});
