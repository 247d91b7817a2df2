// Fault 4: `skyflow start` subscribes to a channel through a websocket proxy that drops its connection again
// and again while a client publishes a stream of messages. Pubsub has no replay, so a message published while
// the engine is not subscribed is never seen (counted apart, as "missed"); every message the engine received
// must start one run, whose sql step inserts one row.
// Sizes: SKYFLOW_FAULTS_WS_DROPS (50).
import { expect, it } from "vitest";
import { createPubsubClient } from "../../src/skygear/pubsub.js";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { startTestServer, TEST_API_KEY, TEST_MASTER_KEY } from "../helpers/server.js";
import { APP, cleanups, launch, projectDir, random, report, size, sleep } from "./harness.js";
import { faultyProxy } from "./proxy.js";

const DROPS = size("SKYFLOW_FAULTS_WS_DROPS", 50);

const workflow = `on:
  pubsub: {channel: faults}
steps:
  - id: log
    sql:
      statement: INSERT INTO msg_log (seq) VALUES ($1)
      params: ["\${{ event.data.seq }}"]
`;

const cleanup = cleanups();

it(`a stream of pubsub messages while the engine's websocket is dropped ${DROPS} times`, async () => {
  const started = Date.now();
  const rnd = random();
  const db: TestDatabase = await createTestDatabase("faults_pubsub");
  cleanup.push(() => db.drop());
  await db.pool.query(`CREATE SCHEMA IF NOT EXISTS ${APP}`);
  await db.pool.query(`CREATE TABLE ${APP}.msg_log (seq int NOT NULL)`);
  const server = await startTestServer(db.pool, { appName: "skyflow" });
  cleanup.push(() => server.close());
  const proxy = await faultyProxy(server.url, rnd.seed + 1);
  cleanup.push(() => proxy.close());
  const project = await projectDir("on-message", workflow);
  cleanup.push(project.remove);
  const engine = await launch(project.dir, {
    DATABASE_URL: db.url,
    SKYGEAR_ENDPOINT: proxy.url,
    SKYGEAR_APP_NAME: "skyflow",
    SKYGEAR_API_KEY: TEST_API_KEY,
    SKYGEAR_MASTER_KEY: TEST_MASTER_KEY,
  });
  cleanup.push(() => engine.stop("SIGKILL"));
  // The publisher reaches the server directly, past the proxy.
  const publisher = createPubsubClient({ endpoint: server.url, apiKey: TEST_API_KEY });
  cleanup.push(() => publisher.close());

  let seq = 0;
  let publishing = true;
  const stream = (async () => {
    while (publishing) {
      await publisher.publish("faults", { seq: seq++ });
      await sleep(4);
    }
  })();
  let drops = 0;
  while (drops < DROPS) {
    // Subscribed again (the engine reconnects with backoff), then dropped after a while.
    await proxy.subscribed("faults");
    await sleep(rnd.between(50, 400));
    drops += await proxy.dropWebsockets();
  }
  await proxy.subscribed("faults");
  await sleep(500);
  publishing = false;
  await stream;

  const delivered = [...proxy.delivered];
  const tally = async () => {
    const { rows } = await db.pool.query<{ seq: number; n: number }>(
      `SELECT seq, count(*)::int AS n FROM ${APP}.msg_log GROUP BY 1`,
    );
    return new Map(rows.map((r) => [r.seq, r.n]));
  };
  // Every message received is run: wait until each delivered seq has its row (or a minute passes).
  const end = Date.now() + 60_000;
  let rows = await tally();
  while (delivered.some((s) => !rows.has(s)) && Date.now() < end) {
    await sleep(250);
    rows = await tally();
  }
  await sleep(1_000);
  rows = await tally();
  const runs = await db.pool.query<{ n: number; events: number }>(
    `SELECT count(*)::int AS n, count(DISTINCT event->'data'->>'seq')::int AS events
     FROM skyflow.runs WHERE workflow = 'on-message'`,
  );
  const deliveredSet = new Set(delivered);
  const lost = [...deliveredSet].filter((s) => !rows.has(s)).length;
  const duplicated =
    [...rows.values()].reduce((a, n) => a + n - 1, 0) +
    [...rows.keys()].filter((s) => !deliveredSet.has(s)).length +
    (runs.rows[0]!.n - runs.rows[0]!.events) +
    (delivered.length - deliveredSet.size);
  report({
    scenario: "pubsub websocket dropped",
    runs: runs.rows[0]!.n,
    kills: 0,
    restarts: 0,
    injected: drops,
    lost,
    duplicated,
    seconds: (Date.now() - started) / 1000,
    note: `${seq} published, ${delivered.length} received, ${seq - delivered.length} missed while not subscribed, seed ${rnd.seed}`,
  });
  expect(drops).toBeGreaterThanOrEqual(DROPS);
  expect(delivered.length).toBeGreaterThan(0);
  expect(runs.rows[0]!.n).toBe(delivered.length);
  expect({ lost, duplicated }).toEqual({ lost: 0, duplicated: 0 });
});
