import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdtemp, readFile, realpath, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { startEmbeddedPostgres } from "../../src/db/embedded.js";

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) {
    // As root the data may live behind a link (see dataDirectory in src/db/embedded.ts).
    const real = await realpath(join(d, "pg")).catch(() => undefined);
    if (real) await rm(real, { recursive: true, force: true });
    await rm(d, { recursive: true, force: true });
  }
});

async function query(url: string): Promise<number> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  const r = await c.query("SELECT 41 + 1 AS n");
  await c.end();
  return r.rows[0].n;
}

/** Field 5 of /proc/<pid>/stat (after the parenthesised command name). */
function processGroup(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[2]);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** A process that starts the embedded Postgres in `dir` and then waits (for a SIGKILL). */
async function ownerChild(dir: string) {
  const child = spawn(process.execPath, ["--import", "tsx", "test/db/fixtures/embedded-child.ts", dir], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout.on("data", (b: Buffer) => b.toString().includes("ready") && resolve());
    child.once("exit", (code) => reject(new Error(`child exited early with ${code}`)));
  });
  return child;
}

describe("embedded Postgres", () => {
  it("keeps its data across a stop and a start in the same directory", async () => {
    const dir = await mkdtemp(join(tmpdir(), "skyflow-emb-"));
    dirs.push(dir);
    const first = await startEmbeddedPostgres({ dir });
    const c = new pg.Client({ connectionString: first.url });
    await c.connect();
    await c.query("CREATE TABLE kept (v text); INSERT INTO kept VALUES ('still here')");
    await c.end();
    // Its own process group: a terminal's Ctrl-C to skyflow's group does not reach the database.
    const pid = Number((await readFile(join(dir, "pg", "postmaster.pid"), "utf8")).split("\n")[0]);
    expect(processGroup(pid)).toBe(pid);
    expect(processGroup(pid)).not.toBe(processGroup(process.pid));
    await first.stop();
    expect(alive(pid)).toBe(false);
    const second = await startEmbeddedPostgres({ dir });
    const c2 = new pg.Client({ connectionString: second.url });
    await c2.connect();
    expect((await c2.query("SELECT v FROM kept")).rows).toEqual([{ v: "still here" }]);
    await c2.end();
    await second.stop();
  }, 60_000);

  it("shares the server of a live skyflow in the same directory, and never stops it", async () => {
    const dir = await mkdtemp(join(tmpdir(), "skyflow-emb-"));
    dirs.push(dir);
    const child = await ownerChild(dir);
    const pid = Number((await readFile(join(dir, "pg", "postmaster.pid"), "utf8")).split("\n")[0]);
    const beside = await startEmbeddedPostgres({ dir });
    expect(beside.attachedTo).toBe(child.pid);
    expect(await query(beside.url)).toBe(42);
    await beside.stop();
    expect(alive(pid)).toBe(true);
    child.kill("SIGKILL");
    await new Promise((r) => child.once("exit", r));
    // Its owner gone, the server is an orphan: the next start shuts it down and owns a fresh one.
    const next = await startEmbeddedPostgres({ dir });
    expect(next.attachedTo).toBeUndefined();
    expect(alive(pid)).toBe(false);
    await next.stop();
  }, 90_000);

  it("recovers the server a SIGKILLed process left running and starts again", async () => {
    const dir = await mkdtemp(join(tmpdir(), "skyflow-emb-"));
    dirs.push(dir);
    const child = await ownerChild(dir);
    child.kill("SIGKILL");
    await new Promise((r) => child.once("exit", r));
    const orphanPid = Number((await readFile(join(dir, "pg", "postmaster.pid"), "utf8")).split("\n")[0]);
    expect(alive(orphanPid)).toBe(true);

    const again = await startEmbeddedPostgres({ dir });
    expect(await query(again.url)).toBe(42);
    expect(alive(orphanPid)).toBe(false);
    await again.stop();
  }, 90_000);
});
