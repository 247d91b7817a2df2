// The triggers of one engine: record changes (outbox + LISTEN), pubsub messages (one leader per channel)
// and cron schedules (one timer over skyflow.cron_schedules). Each kind is parse -> match -> drive.
import { hostname } from "node:os";
import type pg from "pg";
import type { Logger } from "../../log.js";
import { type Clock, systemClock } from "../clock.js";
import type { Catalog } from "../definition/types.js";
import type { Listener, ListenOptions } from "../listen.js";
import { WaitMatcher } from "../park/match.js";
import type { RunHandoff } from "../store/claim.js";
import { startCronDriver } from "./cron/drive.js";
import { type PubsubClientLike, startPubsubDriver } from "./pubsub/drive.js";
import { channelsInUse } from "./pubsub/parse.js";
import { startRecordDriver } from "./record/drive.js";

export interface TriggerOptions {
  pool: pg.Pool;
  catalog: Catalog;
  /** The app's Postgres schema holding the record tables (`app_<name>`). */
  appSchema: string;
  /** The engine's in-process wake-up, called after runs were enqueued. */
  wake: () => void;
  /** An engine in this process that the triggers hand their new runs to without a claim (see RunHandoff). */
  handoff?: RunHandoff;
  log: Logger;
  pubsub?: PubsubClientLike;
  /** The time the triggers read, and what the cron driver sleeps on (default: real time). */
  clock?: Clock;
  /** Longest cron sleep, so schedules another engine adds are noticed (default 5000 ms). */
  cronMaxSleepMs?: number;
  /** Names this engine in cron_fires.fired_by; defaults to host:pid. */
  owner?: string;
  /** Deepest chain of runs started by runs' own writes (default 5). */
  loopDepth?: number;
  /** The keys: redacted from the events of the runs the triggers store. */
  secrets?: string[];
  /** Variables `when` expressions may read as env.<NAME>. */
  env?: Record<string, string>;
  /** Record changes claimed per transaction (default 500). */
  batchSize?: number;
  /** Safety-net poll of the outbox, table attach poll, pubsub lock retry (default 1000 ms). */
  pollMs?: number;
  /** Waits between the tries of a pubsub message whose runs could not be stored (about 30 s in all). */
  pubsubMessageRetryMs?: number[];
  /** How long the pubsub leader waits for its lock session to answer before it stops leading. */
  pubsubLivenessMs?: number;
  /** Opens the record trigger's LISTEN (default: a connection of its own; see ListenHub). */
  listen?: (o: ListenOptions) => Listener;
}

export interface TriggerStats {
  outboxDepth: number;
  lagMs?: number;
  cronLatenessMs?: number;
  /** Pubsub messages waiting to try their runs again (the database was unavailable). */
  pubsubRetrying?: number;
  /** Pubsub messages given up since start (see the pubsub driver's retries). */
  pubsubDropped?: number;
}

export interface Triggers {
  stop(): Promise<void>;
  stats(): TriggerStats;
}

const RUN_WRITES_TTL_MS = 60 * 60 * 1000;

export async function startTriggers(opts: TriggerOptions): Promise<Triggers> {
  const time = opts.clock ?? systemClock;
  const clock = () => new Date(time.now());
  const env = opts.env ?? {};
  const base = {
    pool: opts.pool,
    catalog: opts.catalog,
    wake: opts.wake,
    log: opts.log,
    clock,
    ...(opts.handoff ? { handoff: opts.handoff } : {}),
    secrets: opts.secrets ?? [],
    waits: new WaitMatcher({ catalog: opts.catalog, env: opts.env ?? {}, log: opts.log, clock }),
  };
  const record = await startRecordDriver({
    ...base,
    appSchema: opts.appSchema,
    env,
    loopDepth: opts.loopDepth ?? 5,
    runWritesTtlMs: RUN_WRITES_TTL_MS,
    ...(opts.batchSize ? { batchSize: opts.batchSize } : {}),
    ...(opts.pollMs ? { pollMs: opts.pollMs } : {}),
    ...(opts.listen ? { listen: opts.listen } : {}),
  });
  const cron = await startCronDriver({
    ...base,
    owner: opts.owner ?? `${hostname()}:${process.pid}`,
    clock: time,
    ...(opts.cronMaxSleepMs ? { maxSleepMs: opts.cronMaxSleepMs } : {}),
  });
  if (!opts.pubsub && channelsInUse(opts.catalog.list()).size > 0) {
    opts.log.warn("workflows have pubsub triggers but no pubsub client was given: they will not start");
  }
  const pubsub = opts.pubsub
    ? await startPubsubDriver({
        ...base,
        pubsub: opts.pubsub,
        env,
        ...(opts.pollMs ? { retryMs: opts.pollMs } : {}),
        ...(opts.pubsubMessageRetryMs ? { messageRetryMs: opts.pubsubMessageRetryMs } : {}),
        ...(opts.pubsubLivenessMs ? { livenessMs: opts.pubsubLivenessMs } : {}),
      })
    : undefined;
  return {
    async stop() {
      await Promise.all([record.stop(), cron.stop(), pubsub?.stop()]);
    },
    stats: () => ({ ...record.stats(), ...cron.stats(), ...pubsub?.stats() }),
  };
}
