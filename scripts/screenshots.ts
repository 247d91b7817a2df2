// Takes the README's dashboard screenshots: `skyflow dev` on the example workflows (plus one whose sql step
// fails, and a foreach and parallel that calls another) in a scratch directory and database, a few tasks and
// a purchase request saved through the official SDK, then the overview, a failed run, that foreach's run, a
// waiting run and a workflow page in Debian's Chromium at 1280 px and at phone width, into docs/.
// Run: DATABASE_URL=postgres://... npm run screenshots
import { cp, mkdtemp, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { DEV_API_KEY } from "../src/config.js";
import { createPubsubClient } from "../src/skygear/pubsub.js";
import { eventually, freePort, startCli } from "../test/e2e/child.js";
import { launchBrowser } from "../test/helpers/browser.js";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const OUT = join(ROOT, "docs");
const base = process.env.DATABASE_URL;
if (!base) throw new TypeError("set DATABASE_URL to a Postgres the script may create a scratch database in");

const tally = `name: tally
description: Store a tally (fails until the table exists)
on:
  pubsub:
    channel: tally
steps:
  - id: note
    publish: { channel: tallied, data: { n: 1 } }
  - id: store
    retry: { attempts: 1 }
    sql:
      statement: INSERT INTO tallies (n) VALUES (1) RETURNING n
`;

const fanout = `name: fanout
description: Greet each name, then audit and ask the helper at once
on:
  pubsub:
    channel: fanout
steps:
  - id: each
    foreach: \${{ event.data.names }}
    item: who
    steps:
      - id: hail
        publish: { channel: hailed, data: { to: "\${{ who }}" } }
  - id: fan
    parallel:
      audit:
        - id: log
          publish: { channel: audited, data: { n: "\${{ size(event.data.names) }}" } }
      helper:
        - id: delegate
          call: { workflow: helper, input: { from: fanout } }
output:
  greeted: \${{ size(steps.each.output.items) }}
`;
const helper = `name: helper
description: Called by fanout
on:
  call: {}
steps:
  - id: answer
    publish: { channel: helped, data: { from: "\${{ event.input.from }}" } }
`;

const dbName = `skyflow_screens_${process.pid}`;
const admin = new pg.Client({ connectionString: base });
await admin.connect();
await admin.query(`CREATE DATABASE ${dbName}`);
const url = new URL(base);
url.pathname = `/${dbName}`;
const dir = await mkdtemp(join(tmpdir(), "skyflow-screens-"));
await cp(join(ROOT, "workflows"), join(dir, "workflows"), { recursive: true });
await writeFile(join(dir, "workflows", "tally.yaml"), tally);
await writeFile(join(dir, "workflows", "fanout.yaml"), fanout);
await writeFile(join(dir, "workflows", "helper.yaml"), helper);
const port = await freePort();
const httpPort = await freePort();
const child = startCli(["dev", "--port", String(port)], {
  cwd: dir,
  env: { DATABASE_URL: url.toString(), SKYFLOW_HTTP_PORT: String(httpPort) },
});
const browser = await launchBrowser();
try {
  await child.waitFor("skyflow dev", 60_000);
  const skygear = createRequire(import.meta.url)("skygear");
  await skygear.config({ endPoint: `http://127.0.0.1:${port}/`, apiKey: DEV_API_KEY });
  await skygear.auth.signupAnonymously();
  const Task = skygear.Record.extend("task");
  for (const title of ["Write the launch post", "Fix the login bug", "Review the design"]) {
    await skygear.publicDB.save(new Task({ title, status: "open" }));
  }
  const pubsub = createPubsubClient({ endpoint: `http://127.0.0.1:${port}/`, apiKey: DEV_API_KEY });
  await eventually(async () => (pubsub.connected() ? true : undefined));
  await pubsub.publish("tally", {});
  await pubsub.publish("fanout", { names: ["Ada", "Grace", "Edsger"] });
  await skygear.publicDB.save(
    new (skygear.Record.extend("purchase_request"))({ item: "laptop", amount: 1800 }),
  );
  const db = new pg.Client({ connectionString: url.toString() });
  await db.connect();
  const failed = await eventually(async () => {
    const { rows } = await db.query(
      "SELECT id FROM skyflow.runs WHERE workflow = 'tally' AND status = 'failed'",
    );
    return rows[0]?.id as string | undefined;
  });
  const tree = await eventually(async () => {
    const { rows } = await db.query(
      "SELECT id FROM skyflow.runs WHERE workflow = 'fanout' AND status = 'succeeded'",
    );
    return rows[0]?.id as string | undefined;
  });
  const waiting = await eventually(async () => {
    const { rows } = await db.query(
      "SELECT id FROM skyflow.runs WHERE workflow = 'approval-flow' AND status = 'waiting'",
    );
    return rows[0]?.id as string | undefined;
  });
  await new Promise((r) => setTimeout(r, 1500));
  await db.end();
  await pubsub.close();
  const shots: [string, string, number, number][] = [
    ["overview-desktop", "/", 1280, 820],
    ["run-desktop", `/runs/${failed}`, 1280, 820],
    ["tree-desktop", `/runs/${tree}`, 1280, 820],
    ["waiting-desktop", `/runs/${waiting}`, 1280, 820],
    ["workflow-desktop", "/workflows/count-tasks", 1280, 820],
    ["overview-phone", "/", 390, 844],
    ["run-phone", `/runs/${failed}`, 390, 844],
  ];
  for (const [name, path, width, height] of shots) {
    const page = await browser.newPage(width, height);
    await page.goto(`http://127.0.0.1:${httpPort}${path}`);
    await page.locator("main h1").first().waitFor();
    await page.waitForTimeout(800);
    await page.screenshot({ path: join(OUT, `dashboard-${name}.png`), fullPage: name === "tree-desktop" });
    await page.close();
    console.log(`docs/dashboard-${name}.png`);
  }
  if (browser.errors.length) console.error(`page errors:\n${browser.errors.join("\n")}`);
} finally {
  await browser.close();
  await child.stop("SIGTERM");
  await rm(dir, { recursive: true, force: true });
  await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
  await admin.end();
}
