// End to end on the embedded Postgres (no DATABASE_URL): commands run beside a running `skyflow dev` in the
// same directory share its database instead of stopping it as an orphan, and a database stopped under the
// dev is reported once and started again. Ctrl-C (SIGINT) leaves no Postgres behind.
import { readFileSync } from "node:fs";
import { mkdir, mkdtemp, realpath, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { alive } from "../../src/db/embedded-owner.js";
import { type Child, eventually, freePort, startCli } from "./child.js";

let dir: string;
let dev: Child;
let httpPort: number;

const postmaster = () =>
  Number(readFileSync(join(dir, ".skyflow", "pg", "postmaster.pid"), "utf8").split("\n")[0]);
const ready = async () => (await fetch(`http://127.0.0.1:${httpPort}/readyz`)).status;

async function beside(args: string[]): Promise<{ code: number | null; out: string }> {
  const c = startCli(args, { cwd: dir, env: {} });
  const code = await c.exited;
  return { code, out: c.output() };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "skyflow-e2e-emb-"));
  await mkdir(join(dir, "workflows"));
  await writeFile(
    join(dir, "workflows", "answer.yaml"),
    "on: {pubsub: {channel: answer}}\nsteps:\n  - id: one\n    sql: {statement: SELECT 41 + 1 AS answer}\n",
  );
  httpPort = await freePort();
  dev = startCli(["dev", "--port", String(await freePort()), "--http-port", String(httpPort)], {
    cwd: dir,
    env: {},
  });
  await dev.waitFor("skyflow dev", 90_000);
}, 120_000);

afterAll(async () => {
  await dev?.stop("SIGINT");
  if (!dir) return;
  const real = await realpath(join(dir, ".skyflow", "pg")).catch(() => undefined);
  if (real) await rm(real, { recursive: true, force: true });
  await rm(dir, { recursive: true, force: true });
});

describe("skyflow dev on the embedded Postgres", () => {
  it("keeps its database while pushes, trigger and runs run beside it", async () => {
    const pid = postmaster();
    expect(await ready()).toBe(200);
    const pushes = await beside(["pushes"]);
    expect(pushes).toMatchObject({ code: 0 });
    expect(pushes.out).toContain("no pushes recorded");
    const trigger = await beside(["trigger", "answer"]);
    expect(trigger.code).toBe(0);
    expect(trigger.out).toContain('"answer":42');
    expect((await beside(["runs", "list"])).out).toContain("answer");
    expect(postmaster()).toBe(pid);
    expect(alive(pid)).toBe(true);
    expect(await ready()).toBe(200);
    expect(dev.output()).not.toMatch(/ECONNREFUSED|does not answer/);
  }, 60_000);

  it("says once that its database stopped, starts it again and is ready again", async () => {
    const from = dev.output().length;
    process.kill(postmaster(), "SIGINT");
    await dev.waitFor("started it again", 30_000, from);
    await dev.waitFor("answers again", 30_000, from);
    await eventually(async () => ((await ready()) === 200 ? true : undefined), 30_000);
    const said = dev.output().slice(from);
    expect(said.match(/does not answer/g)).toHaveLength(1);
    // The parts' own connection errors were left out but for the first few, before the watch knew.
    const parts = said.match(/^\[[\d:.]+\] (WARN|ERROR): (?!the database|the embedded Postgres)/gm) ?? [];
    expect(parts.length).toBeLessThanOrEqual(3);
  }, 60_000);

  it("stops its Postgres on Ctrl-C (SIGINT)", async () => {
    const pid = postmaster();
    expect(await dev.stop("SIGINT")).toBe(0);
    expect(alive(pid)).toBe(false);
  }, 60_000);
});
