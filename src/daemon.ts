// The daemon's parts, opened in dependency order and closed in reverse: database, Skygear (embedded server
// with the in-process transport, or SKYGEAR_ENDPOINT over HTTP), pubsub, catalog with reload and pause
// state, engine, triggers (they see the catalog without paused workflows), and the HTTP endpoints.
import { appSchemaName, type Config, DEV_API_KEY, DEV_MASTER_KEY, secretsOf } from "./config.js";
import { loadOneFile, startTriggerSet } from "./daemon-adapters.js";
import { connectSkygear, portError } from "./daemon-skygear.js";
import { DatabaseOutage, watchDatabase } from "./db/health.js";
import { describeDatabase, openDatabase } from "./db/open.js";
import { createPool, warmPool } from "./db/pool.js";
import { LiveCatalog } from "./engine/catalog.js";
import { createEngine, type Engine } from "./engine/engine.js";
import { listenHub } from "./engine/listen.js";
import { parkedCounts } from "./engine/park/waker.js";
import { type Reloader, startReloader } from "./engine/reload.js";
import { commitTryNothing, RECORD_PLANNING } from "./engine/store/commit-try.js";
import { watchPaused } from "./engine/workflow-state.js";
import { CancelWatcher } from "./http/actions.js";
import type { RouteHandler } from "./http/status.js";
import type { Logger } from "./log.js";
import { createMetrics } from "./metrics.js";
import { observeEngine } from "./observe.js";

export interface DaemonOptions {
  mode: "dev" | "start";
  config: Config;
  log: Logger;
  /** Variables expressions may read as env.NAME. */
  exposed: Record<string, string>;
  /** Port of /healthz, /readyz, /metrics; undefined = off, 0 = any free port. */
  httpPort?: number;
  /** Set while the database does not answer; the daemon's logger leaves the parts' connection errors out. */
  outage?: DatabaseOutage;
}

export interface Daemon {
  skygearUrl: string;
  /** For programs and tests: manual runs, waiting for a run. */
  engine: Engine;
  catalog: LiveCatalog;
  httpPort?: number;
  reload(): Promise<void>;
  /**
   * Graceful stop: triggers first, then runs in flight get the grace period, then everything closes. Each
   * part gets a bounded time (STOP_PART_MS, the engine its grace period more); a part that takes longer (a
   * database cut off by the network: its statements wait for TCP to give up, for minutes) is left behind,
   * and stop() rejects with ShutdownIncomplete once the rest has closed.
   */
  stop(): Promise<void>;
  banner(): string;
  summary(): Record<string, unknown>;
}

type Closer = [name: string, close: () => Promise<unknown> | unknown];

/** How long one part of a shutdown may take (the engine: its grace period more) before it is left behind. */
export const STOP_PART_MS = 5_000;

/** Parts of a shutdown that did not finish in their time; the process should exit without them. */
export class ShutdownIncomplete extends Error {
  constructor(readonly parts: string[]) {
    super(`shutdown did not finish: ${parts.join(", ")} still closing (is the database reachable?)`);
  }
}

interface Closing {
  /** Closes everything left, last opened first. */
  all(): Promise<void>;
  /** Closes the part of that name now (given `ms` instead of STOP_PART_MS). */
  one(name: string, ms?: number): Promise<void>;
  /** The parts that did not close in their time. */
  late: string[];
}

export async function openDaemon(opts: DaemonOptions): Promise<Daemon> {
  const { log } = opts;
  const closers: Closer[] = [];
  const late: string[] = [];
  const run = async ([name, close]: Closer, ms = STOP_PART_MS) => {
    let timer: NodeJS.Timeout | undefined;
    const finished = await Promise.race([
      Promise.resolve()
        .then(close)
        .catch((err) => log.warn({ err }, `closing ${name} failed`))
        .then(() => true),
      new Promise<false>((resolve) => {
        timer = setTimeout(() => resolve(false), ms);
      }),
    ]);
    clearTimeout(timer);
    if (!finished) {
      late.push(name);
      log.error({ part: name, ms }, `closing ${name} did not finish within ${ms} ms; going on without it`);
    }
  };
  const closing: Closing = {
    late,
    async all() {
      for (const c of closers.splice(0).reverse()) await run(c);
    },
    async one(name, ms) {
      const i = closers.findIndex((c) => c[0] === name);
      if (i >= 0) await run(closers.splice(i, 1)[0]!, ms);
    },
  };
  try {
    return await open(opts, closers, closing);
  } catch (err) {
    await closing.all();
    throw err;
  }
}

/**
 * Connections of the engine's pool opened at start and kept while idle (PoolOptions.min): a change after a
 * quiet spell (or a fresh daemon's first) had its step wait for a new backend, 10-20 ms (bench/peers.ts
 * latency, a round's first records). Two: at 100 changes a second the steps' transactions seldom overlap
 * more than that.
 */
const ENGINE_KEPT_CONNECTIONS = 2;

async function open(opts: DaemonOptions, closers: Closer[], closing: Closing): Promise<Daemon> {
  const { config, log } = opts;
  const appSchema = appSchemaName(config.appName);
  const db = await openDatabase(config, log, { max: 20, min: ENGINE_KEPT_CONNECTIONS });
  closers.push(["database", db.close]);
  const where = config.databaseUrl ? describeDatabase(db.url) : `(embedded, under ${config.stateDir})`;
  const outage = opts.outage ?? new DatabaseOutage();
  const watch = watchDatabase({ pool: db.pool, log, outage, where, restart: db.restartEmbedded });
  closers.push(["database watch", watch.stop]);
  // Loopback unless a host is given (SKYFLOW_HOST, --host); checkKeysFor refused the development keys off it.
  const host = config.host;
  const sky = await connectSkygear({ config, pool: db.pool, log, appSchema, host });
  closers.push(["skygear", sky.close]);

  const catalog = new LiveCatalog();
  let stopping = false;
  const metrics = createMetrics({
    defaultMetrics: true,
    inFlight: () => engine.inFlight(),
    outboxDepth: async () =>
      Number((await db.pool.query("SELECT count(*) AS n FROM skyflow.record_outbox")).rows[0].n),
    workflowStatuses: () => countStatuses(catalog),
    parkedRuns: () => parkedCounts(db.pool),
  });
  const paused = await watchPaused({ db: db.pool, catalog, log });
  closers.push(["pause watcher", paused.stop]);
  const reloader: Reloader = await startReloader({
    dir: config.workflowsDir,
    catalog,
    load: (file) => loadOneFile(file, { envAllow: config.envAllow, maxBytes: config.workflowMaxBytes }),
    log,
    watch: opts.mode === "dev",
    onApplied: (_c, ms) => {
      if (ms !== undefined) metrics.reloadLatency(ms / 1000);
    },
  });
  closers.push(["workflow watcher", reloader.close]);

  // The engine's LISTEN and the record trigger's on one connection: Postgres wakes every listening backend
  // at each NOTIFY (listen.ts listenHub). The record trigger's wake-flag writes need no durability.
  const listens = listenHub({ connection: db.pool.options, log, setup: ["SET synchronous_commit = off"] });
  const engine = createEngine({
    listen: listens.listen,
    pool: db.pool,
    catalog,
    clients: {
      skygear: sky.container,
      pool: db.pool,
      appSchema,
      pubsub: sky.pubsub,
      sqlGroup: config.sqlGroup,
    },
    log,
    maxRuns: config.maxRuns,
    leaseMs: config.leaseMs,
    env: opts.exposed,
    secrets: secretsOf(config),
  });
  observeEngine(engine, log, metrics, { perStep: opts.mode === "dev" });
  await engine.start();
  // The connections kept for the first runs' steps, opened now rather than by the first change (see
  // ENGINE_KEPT_CONNECTIONS), a try's record prepared on each. Best effort: a connection that fails here is
  // opened when needed.
  await warmPool(db.pool, ENGINE_KEPT_CONNECTIONS, [commitTryNothing()], RECORD_PLANNING).catch((err) =>
    log.debug({ err: (err as Error).message }, "engine connections warm-up failed"),
  );
  // Runs in flight get the grace period in a stop(); none when opening failed.
  let graceMs = 0;
  closers.push(["engine", () => engine.stop({ graceMs })]);
  const cancels = new CancelWatcher({ db: db.pool, engine, log });
  closers.push(["cancel watcher", () => cancels.stop()]);

  // The triggers' claims on connections of their own: on the engine's pool they waited behind the steps of
  // every run in flight (up to SKYFLOW_MAX_RUNS for 20 connections), and the next runs came only once those
  // had drained.
  // One kept while idle: the claim of the first change after a quiet spell (see PoolOptions.min).
  const triggerPool = createPool(db.url, { max: 3, min: 1 });
  closers.push(["trigger connections", () => triggerPool.end()]);
  const triggers = await startTriggerSet({
    listen: listens.listen,
    pool: triggerPool,
    catalog: catalog.triggerView(),
    appSchema,
    wake: () => engine.wake(),
    handoff: engine.handoff(),
    log,
    pubsub: sky.pubsub,
    loopDepth: config.loopDepth,
    env: opts.exposed,
    metrics,
    secrets: secretsOf(config),
  });
  closers.push(["triggers", triggers.stop]);

  let httpPort: number | undefined;
  if (opts.httpPort !== undefined) {
    // Loaded only when the endpoints are on: the dashboard's modules are a daemon's memory otherwise.
    const [{ mountDashboard }, { startHttpServer }, { createStatusHandler }] = await Promise.all([
      import("./http/mount.js"),
      import("./http/server.js"),
      import("./http/status.js"),
    ]);
    const status = createStatusHandler({
      metrics,
      stopping: () => stopping,
      checks: { database: async () => void (await db.pool.query("SELECT 1")), ...sky.checks },
    });
    const dashboard = mountDashboard({
      mode: opts.mode,
      config,
      pool: db.pool,
      catalog,
      engine,
      log,
      appSchema,
      hubs: sky.hubs,
      refreshPaused: paused.refresh,
    });
    closers.push(["dashboard", dashboard.close]);
    const handler: RouteHandler = async (req, res) => (await status(req, res)) || dashboard.handler(req, res);
    const http = await startHttpServer(handler, opts.httpPort, host).catch((err) => {
      throw portError("SKYFLOW_HTTP_PORT", "--http-port", opts.httpPort ?? 0, err);
    });
    httpPort = http.port;
    closers.push(["http endpoints", http.close]);
  }

  return {
    skygearUrl: sky.url,
    engine,
    catalog,
    httpPort,
    reload: async () => void (await reloader.reloadAll()),
    async stop() {
      stopping = true;
      // Intake first: no new runs while the ones in flight finish. The status endpoints close last.
      await closing.one("triggers");
      await closing.one("workflow watcher");
      await closing.one("pause watcher");
      graceMs = config.graceMs;
      await closing.one("engine", config.graceMs + STOP_PART_MS);
      await closing.all();
      if (closing.late.length > 0) throw new ShutdownIncomplete(closing.late);
      log.info("skyflow stopped");
    },
    banner: () => banner(opts, sky.url, httpPort, catalog),
    summary: () => ({ skygear: sky.url, httpPort, workflows: catalog.list().length, app: config.appName }),
  };
}

function countStatuses(catalog: LiveCatalog): Record<string, number> {
  const out: Record<string, number> = { enabled: 0, disabled: 0, paused: 0, broken: 0 };
  for (const d of catalog.list()) {
    const s = catalog.status(d.name);
    if (s) out[s] = (out[s] ?? 0) + 1;
  }
  return out;
}

/** What `skyflow dev` prints: where things listen and the keys an SDK should use. */
function banner(
  opts: DaemonOptions,
  url: string,
  httpPort: number | undefined,
  catalog: LiveCatalog,
): string {
  const { config } = opts;
  const broken = catalog.problems().size;
  const lines = [
    "",
    "skyflow dev",
    `  Skygear server   ${url}${config.skygearEndpoint ? " (SKYGEAR_ENDPOINT)" : ` app "${config.appName}"`}`,
  ];
  // Keys are shown only when they are the public development defaults; a key the user gave never is.
  lines.push(
    `  API key          ${config.apiKey === DEV_API_KEY ? `${DEV_API_KEY} (development default)` : "(as configured)"}`,
  );
  if (config.masterKey === DEV_MASTER_KEY) {
    lines.push(`  master key       ${DEV_MASTER_KEY} (development default)`);
  }
  if (httpPort !== undefined) {
    lines.push(`  dashboard        http://127.0.0.1:${httpPort}/ (also /healthz /readyz /metrics)`);
  }
  const dir = config.workflowsDir.endsWith("/") ? config.workflowsDir : `${config.workflowsDir}/`;
  lines.push(
    `  workflows        ${catalog.list().length} live, ${broken} broken in ${dir}; watching for changes`,
    "",
    `  SDK: skygear.config({ endPoint: "${url}", apiKey: ${config.apiKey === DEV_API_KEY ? `"${DEV_API_KEY}"` : "<your API key>"} })`,
    "",
  );
  return `${lines.join("\n")}\n`;
}
