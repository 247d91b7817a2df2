// One test of `skyflow test`: its own database, the in-process Skygear-compatible server, the real engine and
// triggers on a manual clock; seeds users and records, sends the event, advances time, and collects what
// the expectations compare (runs, step tries, records, pushes, published messages, SQL rows).
import type pg from "pg";
import { createPool, ident } from "../db/pool.js";
import { ManualClock } from "../engine/clock.js";
import type { Catalog, WorkflowDefinition } from "../engine/definition/types.js";
import { createEngine, type Engine, type RunDetails } from "../engine/engine.js";
import { stepKinds } from "../engine/step-kinds.js";
import { firstStepOf, getRun } from "../engine/store/inspect.js";
import { nextFire } from "../engine/triggers/cron/parse.js";
import { startTriggers, type Triggers } from "../engine/triggers/index.js";
import type { Logger } from "../log.js";
import { createSkygearHandler, type SkygearServerHandler } from "../server/index.js";
import { listPushes, type RecordedPush } from "../server/push/outbox.js";
import { SkygearContainer } from "../skygear/container.js";
import { createInProcessTransport } from "../skygear/transport-inprocess.js";
import { actingAs } from "../steps/common.js";
import { toPredicate } from "../steps/predicate.js";
import type { StepKind } from "../steps/types.js";
import type { TestDatabases } from "./test-db.js";
import type { EventSpec, RecordsExpect, SqlExpect, TestCase } from "./test-format.js";
import { type Activity, TestTime } from "./test-time.js";

export interface HarnessOptions {
  dbs: TestDatabases;
  /** Every workflow of the directory (for `call`); only `workflow` is triggered. */
  workflows: WorkflowDefinition[];
  workflow: WorkflowDefinition;
  appSchema: string;
  apiKey: string;
  masterKey: string;
  env: Record<string, string>;
  secrets: string[];
  log: Logger;
  /** Keep the test's database (its name is returned) instead of dropping it. */
  keep?: boolean;
}

/** What a test can look at, at any moment. */
export interface World {
  runs(): Promise<RunDetails[]>;
  published: { channel: string; data: unknown }[];
  pushes(): Promise<RecordedPush[]>;
  records(e: RecordsExpect): Promise<{ records: unknown[]; count: number }>;
  sql(e: SqlExpect): Promise<unknown[]>;
  now(): number;
}

/** A run of one test: `world` for expectations, `event`/`advance` to move it, `close` to end it. */
export interface Harness {
  world: World;
  database: string;
  event(e: EventSpec): Promise<void>;
  advance(ms: number): Promise<void>;
  close(): Promise<void>;
}

const CLOSE_PART_MS = 5_000;

/** Resolves when `p` settles or after `ms`, whichever comes first. */
export async function within(ms: number, p: Promise<unknown>): Promise<"done" | "late"> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<"late">((resolve) => {
    timer = setTimeout(() => resolve("late"), ms);
  });
  try {
    return await Promise.race([p.then(() => "done" as const), late]);
  } finally {
    clearTimeout(timer);
  }
}

export async function openHarness(o: HarnessOptions, tc: TestCase): Promise<Harness> {
  const db = await o.dbs.create(tc.name);
  const pool = createPool(db.url, { max: 8, applicationName: "skyflow test" });
  const closers: (() => Promise<unknown>)[] = [
    async () => {
      if (!o.keep) {
        // Dropped whether or not the pool ends in time: the drop ends any connection left open.
        await within(CLOSE_PART_MS, pool.end());
        db.drop();
      } else await pool.end();
    },
  ];
  // Each part gets a bounded time: one that does not close is left behind, and the database's drop (WITH
  // FORCE) ends its connections, so a stuck part cannot hang the command.
  const close = async () => {
    for (const c of closers.splice(0).reverse())
      await within(
        CLOSE_PART_MS,
        c().catch(() => {}),
      );
  };
  try {
    return await open(o, tc, pool, db, closers, close);
  } catch (err) {
    await close();
    throw err;
  }
}

async function open(
  o: HarnessOptions,
  tc: TestCase,
  pool: pg.Pool,
  db: { url: string; name: string },
  closers: (() => Promise<unknown>)[],
  close: () => Promise<void>,
): Promise<Harness> {
  const clock = new ManualClock(tc.clock ?? (await databaseNow(pool)));
  const log = o.log;
  const handler: SkygearServerHandler = createSkygearHandler({
    pool,
    log,
    config: { appName: "test", schema: o.appSchema, apiKey: o.apiKey, masterKey: o.masterKey },
  });
  closers.push(() => handler.close());
  await handler.ready();
  const skygear = new SkygearContainer({
    transport: createInProcessTransport(handler),
    apiKey: o.apiKey,
    masterKey: o.masterKey,
  });
  const activity: Activity = { n: 0, tries: 0, since: 0, held: 0, listening: 0 };
  pool.on("acquire", () => void activity.held++);
  pool.on("release", () => void activity.held--);
  const published: { channel: string; data: unknown }[] = [];
  const untap = handler.hubs.public.tap((channel, data) => {
    published.push({ channel, data });
    activity.n++;
  });
  closers.push(async () => untap());
  await seed(skygear, tc);

  const engine = createEngine({
    pool,
    catalog: catalogOf(o.workflows),
    clients: {
      skygear,
      pool,
      appSchema: o.appSchema,
      pubsub: { publish: async (channel, data) => void handler.app.publish("public", channel, data) },
    },
    log,
    clock,
    env: o.env,
    secrets: o.secrets,
    maxRuns: 50,
    // The poll is on the manual clock, and `advance` stops at every timer: each move wakes the engine instead.
    pollMs: 366 * 86_400_000,
    stepKinds: counted(stepKinds, activity),
  });
  engine.on("run", () => activity.n++);
  engine.on("step", () => activity.n++);
  await engine.start();
  closers.push(() => engine.stop({ graceMs: 0 }));
  const triggers: Triggers = await startTriggers({
    pool,
    catalog: catalogOf([o.workflow]),
    appSchema: o.appSchema,
    wake: () => engine.wake(),
    handoff: engine.handoff(),
    log,
    pubsub: inProcessPubsub(handler),
    clock,
    cronMaxSleepMs: 366 * 86_400_000,
    env: o.env,
    secrets: o.secrets,
    pollMs: 200,
  });
  closers.push(() => triggers.stop());
  activity.listening = await listeningConnections(activity);

  // Its own connection: the pool's checkouts are activity (something is still working), the watch's are not.
  const watch = createPool(db.url, { max: 1, applicationName: "skyflow test watch" });
  closers.push(() => watch.end());
  const time = new TestTime(watch, clock, engine, published, activity);
  const settle = () => time.settle();
  const world: World = {
    published,
    now: () => clock.now(),
    runs: () => allRuns(pool, catalogOf(o.workflows)),
    pushes: async () => (await listPushes(pool, o.appSchema, 1000)).reverse(),
    records: (e) => queryRecords(skygear, e),
    sql: (e) => sqlRows(pool, o.appSchema, e),
  };
  return {
    world,
    database: db.name,
    async event(e) {
      const move = (ms: number) => time.advance(ms);
      await sendEvent(e, {
        skygear,
        handler,
        engine,
        clock,
        workflow: o.workflow,
        settle,
        advance: move,
        published,
      });
      await settle();
    },
    advance: (ms) => time.advance(ms),
    close,
  };
}

async function databaseNow(pool: pg.Pool): Promise<number> {
  const { rows } = await pool.query<{ now: Date }>("SELECT clock_timestamp() AS now");
  return rows[0]!.now.getTime();
}

/** The connections held for good (LISTEN): the fewest held over a short while after starting. */
async function listeningConnections(activity: Activity): Promise<number> {
  let fewest = activity.held;
  for (let i = 0; i < 10; i++) {
    await new Promise((r) => setTimeout(r, 20));
    fewest = Math.min(fewest, activity.held);
  }
  return fewest;
}

function catalogOf(list: WorkflowDefinition[]): Catalog {
  const byName = new Map(list.map((w) => [w.name, w]));
  return { get: (n) => byName.get(n), list: () => [...byName.values()], subscribe: () => () => {} };
}

/** The step kinds, counting tries in flight: a quiet database with a try running is not yet settled. */
function counted(kinds: Record<string, StepKind>, activity: Activity): Record<string, StepKind> {
  const out: Record<string, StepKind> = {};
  for (const [name, k] of Object.entries(kinds)) {
    out[name] = {
      ...k,
      run: async (ctx) => {
        activity.tries++;
        activity.since = Date.now();
        try {
          return await k.run(ctx);
        } finally {
          activity.tries--;
        }
      },
    };
  }
  return out;
}

/** The pubsub trigger's subscriber, on the server's own hub. */
function inProcessPubsub(handler: SkygearServerHandler) {
  return {
    subscribe(channel: string, fn: (data: unknown) => void): () => void {
      return handler.hubs.public.tap((c, data) => {
        if (c === channel) queueMicrotask(() => fn(data));
      });
    },
  };
}

async function seed(skygear: SkygearContainer, tc: TestCase): Promise<void> {
  for (const u of tc.users) {
    const record = {
      _id: `user/${u.id}`,
      ...(u.username && { username: u.username }),
      ...(u.email && { email: u.email }),
    };
    await skygear.asUser(u.id).save([record]);
  }
  for (const r of tc.records) {
    await actingAs(skygear, r.as ?? "master").save([r.record as never], { databaseId: r.database });
  }
}

interface EventDeps {
  skygear: SkygearContainer;
  handler: SkygearServerHandler;
  engine: Engine;
  clock: ManualClock;
  workflow: WorkflowDefinition;
  settle: () => Promise<void>;
  advance: (ms: number) => Promise<void>;
  published: unknown[];
}

async function sendEvent(e: EventSpec, d: EventDeps): Promise<void> {
  const trigger = (kind: string) => d.workflow.triggers.find((t) => t.kind === kind);
  switch (e.kind) {
    case "record": {
      const client = actingAs(d.skygear, e.as ?? "master");
      const opts = { databaseId: e.database };
      if (e.op === "delete") await client.delete([String(e.record._id)], opts);
      else await client.save([e.record as never], opts);
      return;
    }
    case "pubsub": {
      const t = trigger("pubsub");
      const channel = e.channel ?? (t?.kind === "pubsub" ? t.channel : undefined);
      if (!channel)
        throw new TestSetupError(`${d.workflow.name} has no pubsub trigger: give event.pubsub.channel`);
      // The test's own message is the event, not something the workflow published.
      const before = d.published.length;
      d.handler.app.publish("public", channel, e.data);
      d.published.splice(before, 1);
      return;
    }
    case "cron": {
      const t = trigger("cron");
      if (t?.kind !== "cron") throw new TestSetupError(`${d.workflow.name} has no cron trigger`);
      const at = nextFire(t.schedule, t.timezone, new Date(d.clock.now()));
      if (!at) throw new TestSetupError(`the schedule "${t.schedule}" never fires`);
      await d.advance(at.getTime() - d.clock.now());
      return;
    }
    case "call":
      await d.engine.trigger(d.workflow.name, { type: "call", input: e.input } as never);
      return;
    case "run":
      await d.engine.trigger(d.workflow.name, e.event as never);
      return;
    case "file":
      throw new TestSetupError(`the event file ${e.path} was not read`);
  }
}

/** A mistake in the test that only shows when it runs (an event the workflow cannot take). */
export class TestSetupError extends Error {}

async function allRuns(pool: pg.Pool, catalog: Catalog): Promise<RunDetails[]> {
  const firstStep = firstStepOf(pool, catalog);
  const { rows } = await pool.query<{ id: string }>("SELECT id FROM skyflow.runs ORDER BY created_at, id");
  const out: RunDetails[] = [];
  for (const r of rows) {
    const run = await getRun(pool, r.id, { firstStep });
    if (run) out.push(run);
  }
  return out;
}

async function queryRecords(skygear: SkygearContainer, e: RecordsExpect) {
  const r = await actingAs(skygear, e.as).query({
    recordType: e.type,
    databaseId: e.database,
    predicate: toPredicate(e.where),
    limit: 1000,
    count: true,
  });
  return { records: r.records, count: r.count ?? r.records.length };
}

async function sqlRows(pool: pg.Pool, appSchema: string, e: SqlExpect): Promise<unknown[]> {
  const client = await pool.connect();
  try {
    await client.query("BEGIN READ ONLY");
    await client.query(`SET LOCAL search_path TO ${ident(appSchema)}, public`);
    const { rows } = await client.query(e.statement, e.params);
    return rows;
  } finally {
    await client.query("ROLLBACK").catch(() => {});
    client.release();
  }
}
