// `skyflow test` as users run it: real processes for the exit codes (0 passed, 1 failed, 2 broken) and the
// reporters, a wrong expectation reported at its file:line:column, --watch rerunning on a change, the clock
// fixtures (retries in memory and parked, timeouts), and the embedded Postgres when DATABASE_URL is unset.
import { cp, lstat, mkdir, mkdtemp, readFile, readlink, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { command } from "../../src/commands/test.js";
import { createPool } from "../../src/db/pool.js";
import { startCli } from "../e2e/child.js";
import { runCommand } from "../helpers/command.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const databaseUrl = () => inject("databaseUrl");

/** The review-task example with a test whose second expectation is wrong (notify succeeds). */
const WRONG = [
  "tests:",
  "  - name: a task with a reviewer notifies the reviewer",
  "    users: [alice, bob]",
  "    event:",
  "      record: { as: alice, record: { _id: task/t1, title: Docs, reviewer: { $type: ref, $id: user/bob } } }",
  "    expect:",
  "      steps:",
  "        review: succeeded",
  "        notify: failed",
  "",
].join("\n");
const WRONG_AT =
  'workflows/review-task.test.yaml:9:17: step notify status: expected "failed", got "succeeded"';

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "skyflow-test-cmd-"));
  await mkdir(join(dir, "workflows"));
  await cp(join(ROOT, "workflows/review-task.yaml"), join(dir, "workflows/review-task.yaml"));
});

afterAll(async () => {
  // As root, the embedded Postgres keeps its data where its own user can reach it, behind a link.
  const data = await readlink(join(dir, ".state/pg")).catch(() => undefined);
  if (data) await rm(data, { recursive: true, force: true });
  await rm(dir, { recursive: true, force: true });
});

async function cli(
  args: string[],
  cwd: string,
  env: Record<string, string> = { DATABASE_URL: databaseUrl() },
) {
  const child = startCli(["test", ...args], { cwd, env });
  const code = await child.exited;
  return { code, out: child.output() };
}

describe("skyflow test (processes)", () => {
  it("passes the example workflows' tests and exits 0", async () => {
    const r = await cli([], ROOT);
    expect(r.out).toMatch(/workflows\/review-task\.test\.yaml\n {2}ok {3}a new task with a reviewer/);
    expect(r.out).toMatch(/\n\d+ passed, 0 failed \(\d+\.\d s\)\n/);
    expect(r.code).toBe(0);
  }, 180_000);

  it("exits 1 on a wrong expectation and prints it at its file:line:column, in every reporter", async () => {
    await writeFile(join(dir, "workflows/review-task.test.yaml"), WRONG);
    const human = await cli([], dir);
    expect(human.out).toContain("FAIL a task with a reviewer notifies the reviewer");
    expect(human.out).toContain(WRONG_AT);
    expect(human.out).toMatch(/0 passed, 1 failed/);
    expect(human.code).toBe(1);
    const junit = await cli(["review-task", "--reporter", "junit"], dir);
    expect(junit.out).toContain('<testsuite name="workflows/review-task.test.yaml" tests="1" failures="1"');
    expect(junit.out).toContain(`${WRONG_AT.replace(/"/g, "&quot;")}</failure>`);
    expect(junit.code).toBe(1);
    const tap = await cli(["workflows/review-task.test.yaml", "--reporter", "tap"], dir);
    expect(tap.out).toContain("not ok 1 - workflows/review-task.test.yaml > a task with a reviewer notifies");
    expect(tap.out).toContain(JSON.stringify(WRONG_AT));
    expect(tap.code).toBe(1);
  }, 180_000);

  it("exits 2 on a broken test file, with the mistake's file:line:column", async () => {
    await writeFile(join(dir, "workflows/review-task.test.yaml"), WRONG.replace("    expect:", "    expct:"));
    const r = await cli([], dir);
    expect(r.out).toContain(
      'workflows/review-task.test.yaml:6:5: tests[0].expct: unknown key "expct"; expected one of name, clock, users, records, event, then, expect',
    );
    expect(r.code).toBe(2);
  }, 60_000);

  it("--watch runs again when a test file changes, and stops on SIGINT with 0", async () => {
    const file = join(dir, "workflows/review-task.test.yaml");
    await writeFile(file, WRONG.replace("notify: failed", "notify: succeeded"));
    const child = startCli(["test", "--watch"], { cwd: dir, env: { DATABASE_URL: databaseUrl() } });
    try {
      await child.waitFor("watching for changes", 90_000);
      expect(child.output()).toContain("1 passed, 0 failed");
      const from = child.output().length;
      await writeFile(file, WRONG);
      await child.waitFor(WRONG_AT, 90_000, from);
      await child.waitFor("watching for changes", 30_000, from);
    } finally {
      expect(await child.stop("SIGINT")).toBe(0);
    }
  }, 240_000);

  it("uses the embedded Postgres under the state directory when DATABASE_URL is unset", async () => {
    await writeFile(
      join(dir, "workflows/review-task.test.yaml"),
      WRONG.replace("notify: failed", "notify: succeeded"),
    );
    const r = await cli([], dir, { SKYFLOW_STATE_DIR: join(dir, ".state") });
    expect(r.out).toContain("1 passed, 0 failed");
    expect(r.code).toBe(0);
    // The data directory (a link to it when running as root) is where `skyflow dev` keeps it.
    expect(
      await lstat(join(dir, ".state/pg")).then(
        () => true,
        () => false,
      ),
    ).toBe(true);
  }, 240_000);
});

describe("skyflow test (in process)", () => {
  const env = () => ({ DATABASE_URL: databaseUrl() });

  it("drives retries (in memory and parked), timeouts, sleeps, waits and calls with the clock", async () => {
    const r = await runCommand(command, ["--dir", "test/commands/fixtures/clock"], env(), ROOT);
    expect(r.out).toContain("ok   the third try succeeds after waits of 1 s and 2 s");
    expect(r.out).toContain("ok   a retry parked in the database is woken when the clock passes its time");
    expect(r.out).toContain(
      "ok   a try that outlives its timeout fails with Timeout when the clock passes it",
    );
    expect(r.out).toContain("ok   a 10 minute sleep ends when the clock has moved 10 minutes");
    expect(r.out).toContain("ok   without an approval the wait times out after a day");
    expect(r.out).toContain("ok   an approval record releases the waiting run");
    expect(r.out).toContain("ok   a call gets the child run's output; the run then sleeps a minute");
    expect(r.out).toMatch(/\n8 passed, 0 failed/);
    expect(r.code).toBe(0);
  }, 120_000);

  it("runs the README's test file as written, and it passes", async () => {
    const readme = await readFile(join(ROOT, "README.md"), "utf8");
    const section = readme.slice(readme.indexOf("## Testing workflows"));
    const yaml = /```yaml\n([\s\S]*?)```/.exec(section)?.[1];
    expect(yaml).toContain("# workflows/review-task.test.yaml");
    const own = await mkdtemp(join(tmpdir(), "skyflow-test-readme-"));
    try {
      await mkdir(join(own, "workflows"));
      await cp(join(ROOT, "workflows/review-task.yaml"), join(own, "workflows/review-task.yaml"));
      await writeFile(join(own, "workflows/review-task.test.yaml"), yaml!);
      const r = await runCommand(command, [], env(), own);
      expect(r.out).toContain("1 passed, 0 failed");
      expect(r.code).toBe(0);
    } finally {
      await rm(own, { recursive: true, force: true });
    }
  }, 60_000);

  it("--keep-db keeps the test's database and names it; a broken event file exits 2 at its position", async () => {
    const own = await mkdtemp(join(tmpdir(), "skyflow-test-keep-"));
    try {
      await mkdir(join(own, "workflows/events"), { recursive: true });
      await cp(join(ROOT, "workflows/find-task.yaml"), join(own, "workflows/find-task.yaml"));
      const test =
        "tests:\n  - name: from a file\n    event: { file: events/e.json }\n    expect: { runs: 1 }\n";
      await writeFile(join(own, "workflows/find-task.test.yaml"), test);
      await writeFile(join(own, "workflows/events/e.json"), '{ "pubsub": { "data": { "id": "task/1" } } }');
      const kept = await runCommand(command, ["--keep-db"], env(), own);
      expect(kept.code).toBe(0);
      const name = /\[database (skyflow_test_\w+)\]/.exec(kept.out)?.[1];
      expect(name).toBeDefined();
      const pool = createPool(databaseUrl(), { max: 1 });
      try {
        const runs = await pool.query("SELECT 1 FROM pg_database WHERE datname = $1", [name]);
        expect(runs.rowCount).toBe(1);
        await pool.query(`DROP DATABASE ${name} WITH (FORCE)`);
      } finally {
        await pool.end();
      }
      await writeFile(join(own, "workflows/events/e.json"), '{\n  "pubsub": { "dta": {} }\n}');
      const broken = await runCommand(command, [], env(), own);
      expect(broken.out).toContain(
        'workflows/events/e.json:2:15: pubsub.dta: unknown key "dta"; expected one of channel, data',
      );
      expect(broken.code).toBe(2);
    } finally {
      await rm(own, { recursive: true, force: true });
    }
  }, 60_000);

  it("--help prints the usage and exits 0; an unknown test name exits 2", async () => {
    const help = await runCommand(command, ["--help"], env(), ROOT);
    expect(help.out).toMatch(/^usage: skyflow test \[files or workflow names\.\.\.\]/);
    expect(help.code).toBe(0);
    const missing = await runCommand(command, ["no-such-workflow"], env(), ROOT);
    expect(missing.err).toContain(
      "skyflow test: no test file no-such-workflow, and no no-such-workflow.test.yaml in workflows",
    );
    expect(missing.code).toBe(2);
  });
});
