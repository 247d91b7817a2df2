// The dashboard in a real browser (Debian's Chromium) against `skyflow dev` as a child process: the live
// overview, a new run appearing without a reload (from this daemon's engine, and one another daemon runs),
// a run's steps with status and duration, a failed sql step's database error and a retry that works (also
// from a failed foreach item's step), a foreach's items and a parallel's branches with their inner steps and
// a called run, a waiting run's wait and its cancel (with the run it called), the workflow page, a broken
// edit shown as file:line:column without a reload, and no script errors.
import { mkdirSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEV_API_KEY } from "../../src/config.js";
import { createPubsubClient, type PubsubClient } from "../../src/skygear/pubsub.js";
import { type Browser, haveChromium, launchBrowser } from "../helpers/browser.js";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { type Child, eventually, freePort, startCli } from "./child.js";

const greet = `name: greet
description: answers a hello
on:
  pubsub:
    channel: hello
steps:
  - id: shout
    publish:
      channel: greeted
      data: { to: "\${{ event.data.name }}" }
  - id: count
    sql:
      statement: SELECT 1 AS one
`;
const tally = `name: tally
on:
  - pubsub:
      channel: tally
  - cron:
      schedule: "0 9 * * *"
      timezone: Asia/Hong_Kong
steps:
  - id: note
    publish:
      channel: tallied
      data: { n: 1 }
  - id: store
    retry: { attempts: 1 }
    sql:
      statement: INSERT INTO tallies (n) VALUES (1) RETURNING n
`;

const fanout = `name: fanout
on:
  pubsub:
    channel: fanout
steps:
  - id: each
    foreach: \${{ event.data.names }}
    item: who
    steps:
      - id: hail
        publish:
          channel: hailed
          data: { to: "\${{ who }}", index: "\${{ index }}" }
  - id: fan
    parallel:
      audit:
        - id: log
          publish: { channel: audited, data: { n: 1 } }
      helper:
        - id: delegate
          call:
            workflow: helper
            input: { from: fanout }
output:
  done: \${{ size(steps.each.output.items) }}
`;
const helper = `name: helper
on:
  call: {}
steps:
  - id: answer
    publish:
      channel: helped
      data: { from: "\${{ event.input.from }}" }
`;
const hold = `name: hold
on:
  pubsub:
    channel: hold
steps:
  - id: approval
    wait_for:
      pubsub: { channel: approvals }
      match: \${{ incoming.data.order == event.data.order }}
      timeout: 1h
`;
const caller = `name: caller
on:
  pubsub:
    channel: caller
steps:
  - id: nap
    call:
      workflow: napper
`;
const napper = `name: napper
on:
  call: {}
steps:
  - id: rest
    sleep: 1h
`;
// Parked inside its parallel: one branch sleeps, the other waits for a message.
const inside = `name: inside
on:
  pubsub:
    channel: inside
steps:
  - id: fan
    parallel:
      a:
        - id: nap
          sleep: 1h
      b:
        - id: ask
          wait_for:
            pubsub: { channel: nods }
            match: \${{ incoming.data.order == event.data.order }}
            timeout: 1h
`;

const batch = `name: batch
on:
  pubsub:
    channel: batch
steps:
  - id: each
    foreach: \${{ event.data.ns }}
    item: n
    steps:
      - id: put
        retry: { attempts: 1 }
        sql:
          statement: INSERT INTO batch_log (n) VALUES ($1::int) RETURNING n
          params: ["\${{ n }}"]
`;

let db: TestDatabase;
let dir: string;
let child: Child;
let dash: string;
let browser: Browser;
let pubsub: PubsubClient;
const started = Date.now();

beforeAll(async () => {
  if (!haveChromium) return;
  db = await createTestDatabase("e2e_dashboard");
  dir = await mkdtemp(join(tmpdir(), "skyflow-dash-"));
  mkdirSync(join(dir, "workflows"));
  await writeFile(join(dir, "workflows", "greet.yaml"), greet);
  await writeFile(join(dir, "workflows", "tally.yaml"), tally);
  for (const [name, text] of Object.entries({ fanout, helper, hold, caller, napper, batch, inside })) {
    await writeFile(join(dir, "workflows", `${name}.yaml`), text);
  }
  const port = await freePort();
  const httpPort = await freePort();
  child = startCli(["dev", "--port", String(port)], {
    cwd: dir,
    env: { DATABASE_URL: db.url, SKYFLOW_HTTP_PORT: String(httpPort), SKYFLOW_GRACE_MS: "2000" },
  });
  await child.waitFor("skyflow dev", 60_000);
  dash = `http://127.0.0.1:${httpPort}`;
  pubsub = createPubsubClient({ endpoint: `http://127.0.0.1:${port}/`, apiKey: DEV_API_KEY });
  await eventually(async () => (pubsub.connected() ? true : undefined));
  browser = await launchBrowser();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await pubsub?.close();
  await child?.stop("SIGKILL");
  await db?.drop();
  if (dir) await rm(dir, { recursive: true, force: true });
  if (haveChromium) console.log(`dashboard browser suite: ${((Date.now() - started) / 1000).toFixed(1)} s`);
});

async function open(path: string, width?: number): Promise<Page> {
  const page = await browser.newPage(width);
  await page.goto(dash + path);
  return page;
}

/** A run of `workflow` that this test starts, once it has finished. */
async function finishedRun(workflow: string, since: number): Promise<{ id: string; status: string }> {
  return eventually(async () => {
    const { rows } = await db.pool.query(
      `SELECT id, status FROM skyflow.runs WHERE workflow = $1 AND seq > $2 AND finished_at IS NOT NULL`,
      [workflow, since],
    );
    return rows[0];
  });
}

const lastSeq = async () =>
  Number((await db.pool.query("SELECT coalesce(max(seq), 0) AS s FROM skyflow.runs")).rows[0].s);

describe.skipIf(!haveChromium)("dashboard in a browser under skyflow dev", () => {
  it("lists the workflows with their triggers and status", async () => {
    const page = await open("/");
    await page.locator('tr[data-workflow="greet"]').waitFor();
    const row = await page.locator('tr[data-workflow="tally"]').textContent();
    expect(row).toContain("pubsub tally");
    expect(row).toMatch(/cron "0 9 \* \* \*" Asia\/Hong_Kong · next \d{4}-\d\d-\d\d \d\d:\d\d/);
    expect(row).toContain("enabled");
    await page.close();
  });

  it("shows a new run on an open overview without a reload", async () => {
    const page = await open("/");
    await page.locator('tr[data-workflow="greet"]').waitFor();
    await page.evaluate(() => Object.assign(globalThis, { marker: "same page" }));
    const since = await lastSeq();
    const t0 = performance.now();
    await pubsub.publish("hello", { name: "Ada" });
    const run = await finishedRun("greet", since);
    await page.locator(`tr[data-run="${run.id}"]`).waitFor({ timeout: 10_000 });
    console.log(
      `new run of this daemon on the open overview: ${Math.round(performance.now() - t0)} ms after the publish`,
    );
    await page.locator(`tr[data-run="${run.id}"] .status >> text=succeeded`).waitFor({ timeout: 10_000 });
    expect(await page.evaluate(() => (globalThis as { marker?: string }).marker)).toBe("same page");
    await page.close();
  });

  it("shows a run that another daemon executes on the same database, and its end, without a reload", async () => {
    const page = await open("/");
    await page.locator('tr[data-workflow="greet"]').waitFor();
    const id = "0d0d0d0d-0000-4000-8000-000000000001";
    const t0 = performance.now();
    await db.pool.query(
      `INSERT INTO skyflow.runs (id, workflow, version, event_id, event, status, lease_owner, lease_until, started_at)
       VALUES ($1, 'elsewhere', 'v', 'e-elsewhere', '{}', 'running', 'another-daemon', now() + interval '1 hour', now())`,
      [id],
    );
    await page.locator(`tr[data-run="${id}"] .status >> text=running`).waitFor({ timeout: 10_000 });
    const seen = performance.now() - t0;
    await db.pool.query(
      "UPDATE skyflow.runs SET status = 'succeeded', finished_at = now(), updated_at = now() WHERE id = $1",
      [id],
    );
    await page.locator(`tr[data-run="${id}"] .status >> text=succeeded`).waitFor({ timeout: 10_000 });
    console.log(`run of another daemon on the open overview: ${Math.round(seen)} ms after its insert`);
    await page.close();
  });

  it("shows each step of a run with its status and duration", async () => {
    const since = await lastSeq();
    await pubsub.publish("hello", { name: "Grace" });
    const run = await finishedRun("greet", since);
    const page = await open(`/runs/${run.id}`);
    for (const step of ["shout", "count"]) {
      const row = page.locator(`[data-step="${step}"] .tl-row`);
      await row.waitFor();
      const text = await row.textContent();
      expect(text).toContain("succeeded");
      expect(text).toMatch(/\d+(\.\d+)?(ms|s)\b/);
    }
    await expect.poll(() => page.locator("h1").textContent()).toContain("succeeded");
    await page.close();
  });

  it("shows a failed sql step's database error, and its retry control runs it again", async () => {
    const since = await lastSeq();
    await pubsub.publish("tally", {});
    const run = await finishedRun("tally", since);
    expect(run.status).toBe("failed");
    const page = await open(`/runs/${run.id}`);
    await page.locator('text=relation "tallies" does not exist').first().waitFor();
    expect(await page.locator('[data-step="store"] .tl-row').textContent()).toContain("failed");
    // Fix the cause, then retry from the page: the run goes on from its failed step and succeeds.
    await db.pool.query("CREATE TABLE app_skyflow.tallies (n int)");
    await page.getByRole("button", { name: "Retry from the failed step" }).click();
    await page.locator("h1 >> text=succeeded").waitFor({ timeout: 15_000 });
    const { rows } = await db.pool.query("SELECT count(*)::int AS n FROM app_skyflow.tallies");
    expect(rows[0].n).toBe(1);
    await page.close();
  });

  it("shows a foreach's items and a parallel's branches with their inner steps, and the run it called", async () => {
    const since = await lastSeq();
    await pubsub.publish("fanout", { names: ["Ada", "Grace", "Edsger"] });
    const run = await finishedRun("fanout", since);
    expect(run.status).toBe("succeeded");
    const page = await open(`/runs/${run.id}`);
    for (const i of [0, 1, 2]) {
      const item = page.locator(`[data-step="each[${i}]"] .tl-row`);
      await item.waitFor({ timeout: 10_000 });
      expect(await item.textContent()).toContain(`item [${i}]`);
      const inner = page.locator(`[data-step="each[${i}].hail"]`);
      expect(await inner.locator(".tl-row").textContent()).toMatch(/succeeded.*\d+(\.\d+)?(ms|s)\b/);
    }
    for (const b of ["audit", "helper"]) {
      expect(await page.locator(`[data-step="fan.${b}"] .tl-row`).textContent()).toContain(`branch ${b}`);
    }
    // An inner step's try, opened by keyboard: its input as stored.
    await page.locator('[data-step="each[1].hail"] summary').focus();
    await page.keyboard.press("Enter");
    await page
      .locator('[data-step="each[1].hail"] .try pre', { hasText: '"to": "Grace"' })
      .first()
      .waitFor({ timeout: 10_000 });
    // The called run, linked from its calling step, links back to its parent.
    await page.locator('[data-step="fan.helper.delegate"] summary').click();
    const link = page.locator('[data-step="fan.helper.delegate"] a[data-child]');
    await link.waitFor({ timeout: 10_000 });
    expect(await link.textContent()).toContain("helper");
    expect(await page.locator(".output-section").textContent()).toContain('"done": 3');
    await link.click();
    await page.locator("h1", { hasText: "helper" }).waitFor({ timeout: 10_000 });
    const back = page.locator(`.facts a[href="/runs/${run.id}"]`);
    expect(await back.textContent()).toContain("fanout");
    await page.close();
    // On a phone, the nested rows stay on the screen.
    const phone = await open(`/runs/${run.id}`, 390);
    await phone.locator('[data-step="fan.helper.delegate"] .tl-row').waitFor({ timeout: 10_000 });
    const overflow = await phone.evaluate<number>("document.documentElement.scrollWidth - window.innerWidth");
    expect(overflow).toBeLessThanOrEqual(0);
    await phone.close();
  }, 60_000);

  it("retries a failed foreach from its failed item's step, keeping the item that succeeded", async () => {
    await db.pool.query("CREATE TABLE app_skyflow.batch_log (n int CONSTRAINT small CHECK (n < 5))");
    const since = await lastSeq();
    await pubsub.publish("batch", { ns: [1, 7, 2] });
    const run = await finishedRun("batch", since);
    expect(run.status).toBe("failed");
    const page = await open(`/runs/${run.id}`);
    const failed = page.locator('[data-step="each[1].put"]');
    await failed.locator(".try-error").first().waitFor({ timeout: 10_000 });
    expect(await failed.locator(".tl-row").textContent()).toContain("failed");
    expect(await page.locator('[data-step="each[0].put"] .tl-row').textContent()).toContain("succeeded");
    await db.pool.query("ALTER TABLE app_skyflow.batch_log DROP CONSTRAINT small");
    await failed.getByRole("button", { name: "Retry the run from this step" }).click();
    await page.locator("h1 .status >> text=succeeded").waitFor({ timeout: 15_000 });
    const { rows } = await db.pool.query("SELECT n FROM app_skyflow.batch_log ORDER BY n");
    expect(rows.map((r) => r.n)).toEqual([1, 2, 7]);
    await page.close();
  }, 60_000);

  it("says what a waiting run waits for, and its cancel control ends it as cancelled", async () => {
    const since = await lastSeq();
    await pubsub.publish("hold", { order: "o-17" });
    const id = await eventually(async () => {
      const { rows } = await db.pool.query(
        "SELECT id FROM skyflow.runs WHERE workflow = 'hold' AND seq > $1 AND status = 'waiting'",
        [since],
      );
      return rows[0]?.id as string | undefined;
    });
    const page = await open(`/runs/${id}`);
    const waiting = page.locator('[aria-label="what the run waits for"]');
    await waiting.waitFor({ timeout: 10_000 });
    const text = await waiting.textContent();
    expect(text).toContain("at step approval for pubsub:approvals");
    expect(text).toMatch(/timing out at \d{4}-\d\d-\d\d \d\d:\d\d/);
    expect(text).toContain('incoming.data.order == "o-17"');
    // Its step's open try waits, rather than runs.
    expect(await page.locator('[data-step="approval"] .tl-status .status').textContent()).toBe("waiting");
    page.once("dialog", (d) => void d.accept());
    await page.getByRole("button", { name: "Cancel run" }).click();
    await page.locator("h1 .status >> text=cancelled").waitFor({ timeout: 10_000 });
    const { rows } = await db.pool.query("SELECT status FROM skyflow.runs WHERE id = $1", [id]);
    expect(rows[0].status).toBe("cancelled");
    await page.close();
  }, 60_000);

  it("cancels a run waiting for the run it called, and that sleeping run with it", async () => {
    const since = await lastSeq();
    await pubsub.publish("caller", {});
    const [parent, kid] = await eventually(async () => {
      const { rows } = await db.pool.query(
        `SELECT p.id, c.id AS child FROM skyflow.runs p JOIN skyflow.runs c ON c.parent_id = p.id
         WHERE p.workflow = 'caller' AND p.seq > $1 AND p.status = 'waiting' AND c.status = 'sleeping'`,
        [since],
      );
      return rows[0] ? [rows[0].id as string, rows[0].child as string] : undefined;
    });
    const page = await open(`/runs/${kid}`);
    const waiting = page.locator('[aria-label="what the run waits for"]');
    await waiting.waitFor({ timeout: 10_000 });
    const text = await waiting.textContent();
    expect(text).toMatch(
      /^sleeping at step rest until \d{4}-\d\d-\d\d \d\d:\d\d:\d\d \(in (59m \d+s|1h 0m)\)/,
    );
    expect(await page.locator('[data-step="rest"] .tl-status .status').textContent()).toBe("sleeping");
    await page.goto(`${dash}/runs/${parent}`);
    await page.locator(`[aria-label="what the run waits for"] a[href="/runs/${kid}"]`).waitFor();
    page.once("dialog", (d) => void d.accept());
    await page.getByRole("button", { name: "Cancel run" }).click();
    await page.locator("h1 .status >> text=cancelled").waitFor({ timeout: 10_000 });
    const { rows } = await db.pool.query("SELECT id, status FROM skyflow.runs WHERE id = ANY($1)", [
      [parent, kid],
    ]);
    expect(rows.map((r) => r.status)).toEqual(["cancelled", "cancelled"]);
    await page.close();
  }, 60_000);

  it("lists each inner step that waits in a parked parallel, and shows their tries sleeping and waiting", async () => {
    const since = await lastSeq();
    await pubsub.publish("inside", { order: "o-9" });
    const id = await eventually(async () => {
      const { rows } = await db.pool.query(
        "SELECT id FROM skyflow.runs WHERE workflow = 'inside' AND seq > $1 AND status = 'waiting'",
        [since],
      );
      return rows[0]?.id as string | undefined;
    });
    const page = await open(`/runs/${id}`);
    const items = page.locator('[aria-label="what the run waits for"] .inner-waits li');
    await items.nth(1).waitFor({ timeout: 10_000 });
    const lines = await items.allTextContents();
    expect(lines).toHaveLength(2);
    expect(lines.find((l) => l.includes("nap"))).toMatch(/sleeping until \d{4}-\d\d-\d\d/);
    expect(lines.find((l) => l.includes("ask"))).toMatch(/waiting for pubsub:nods, timing out at \d{4}/);
    const status = (suffix: string) =>
      page.locator(`[data-step$="${suffix}"] .tl-status .status`).first().textContent();
    expect(await status(".nap")).toBe("sleeping");
    expect(await status(".ask")).toBe("waiting");
    await page.close();
  }, 60_000);

  it("shows a workflow's trigger and source", async () => {
    const page = await open("/workflows/tally");
    await page.locator(".source").waitFor();
    expect(await page.locator(".triggers").textContent()).toContain("pubsub tally");
    expect(await page.locator(".triggers").textContent()).toMatch(
      /cron "0 9 \* \* \*" Asia\/Hong_Kong · next/,
    );
    expect(await page.locator(".source").textContent()).toContain(
      "INSERT INTO tallies (n) VALUES (1) RETURNING n",
    );
    await page.close();
  });

  it("shows a broken edit as file:line:column on the open overview without a reload", async () => {
    const page = await open("/");
    await page.locator('tr[data-workflow="greet"]').waitFor();
    await writeFile(join(dir, "workflows", "greet.yaml"), `${greet}  - publsh: { channel: x }\n`);
    const problem = page.locator('tr[data-workflow="greet"] .problem').first();
    await problem.waitFor({ timeout: 10_000 });
    expect(await problem.textContent()).toMatch(/greet\.yaml:\d+:\d+: /);
    expect(await page.locator('tr[data-workflow="greet"]').textContent()).toContain("broken");
    await page.close();
  });

  it("shows the pubsub messages the development server carried, as they come", async () => {
    const page = await open("/dev");
    await page.locator("h2 >> text=Pubsub messages").waitFor();
    await pubsub.publish("dev-log-check", { note: "seen live", password: "hunter2" });
    const item = page.locator(".feed li", { hasText: "dev-log-check" });
    await item.waitFor({ timeout: 10_000 });
    expect(await item.textContent()).toContain("seen live");
    expect(await item.textContent()).not.toContain("hunter2");
    await page.close();
  });

  it("is usable by keyboard: Tab reaches a workflow's link and Enter opens its page", async () => {
    const page = await open("/");
    await page.locator('tr[data-workflow="tally"]').waitFor();
    let focused = "";
    for (let i = 0; i < 30 && focused !== "tally"; i++) {
      await page.keyboard.press("Tab");
      focused = await page.evaluate<string>("document.activeElement?.textContent ?? ''");
    }
    expect(focused).toBe("tally");
    await page.keyboard.press("Enter");
    await page.locator("h1", { hasText: "tally" }).waitFor();
    expect(new URL(page.url()).pathname).toBe("/workflows/tally");
    await page.close();
  });

  it("is readable on a phone: no part of the overview runs off the screen", async () => {
    const page = await open("/", 390);
    await page.locator('tr[data-workflow="greet"]').waitFor();
    const overflow = await page.evaluate<number>("document.documentElement.scrollWidth - window.innerWidth");
    expect(overflow).toBeLessThanOrEqual(0);
    await page.close();
  });

  it("logged no script errors on any page", () => {
    expect(browser.errors).toEqual([]);
  });
});
