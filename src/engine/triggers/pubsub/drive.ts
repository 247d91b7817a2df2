// Pubsub trigger, drive step: per channel in use, the engine holding a session advisory lock (on a dedicated
// connection) is the one subscriber; the others retry the lock periodically and take over when it dies.
import { randomUUID } from "node:crypto";
import pg from "pg";
import { backoffMs } from "../../../backoff.js";
import { poolDb } from "../../../db/pool.js";
import type { Logger } from "../../../log.js";
import type { Catalog, TriggerEvent, WorkflowDefinition } from "../../definition/types.js";
import { channelSource } from "../../park/keys.js";
import type { WaitMatcher } from "../../park/match.js";
import type { RunHandoff } from "../../store/claim.js";
import { storable } from "../../store/storable.js";
import { MAX_EVENT_DEPTH, nestsDeeper } from "../context.js";
import { handover } from "../start-runs.js";
import { matchPubsub, pubsubEvent } from "./match.js";
import { channelsInUse } from "./parse.js";

export interface PubsubClientLike {
  subscribe(channel: string, handler: (data: unknown) => void): () => void;
}

export interface PubsubDriverOptions {
  pool: pg.Pool;
  catalog: Catalog;
  pubsub: PubsubClientLike;
  wake: () => void;
  /** An engine in this process that takes the messages' runs without a claim (see RunHandoff). */
  handoff?: RunHandoff;
  /** The keys, redacted from stored events. */
  secrets?: string[];
  log: Logger;
  clock: () => Date;
  env: Record<string, string>;
  /** How often a standby retries the locks it lacks. */
  retryMs?: number;
  /** Waits between the tries of a message whose runs' transaction failed (default RETRY_MS). */
  messageRetryMs?: number[];
  /**
   * How long the lock session may take to connect, and to answer a query, its liveness check included
   * (default LIVENESS_MS).
   */
  livenessMs?: number;
  /** Releases runs waiting (wait_for) for these messages (src/engine/park). */
  waits?: WaitMatcher;
}

/** Waits between tries of a message's runs whose transaction failed: 125 ms doubling to 15 s, 31 s in all. */
const RETRY_MS = [1, 2, 3, 4, 5, 6, 7, 8].map((n) => backoffMs({ initialMs: 125, maxMs: 15_000 }, n));
/** Messages waiting for a retry at most; past this, a failed message is dropped (and logged) at once. */
const MAX_RETRYING = 10_000;

/**
 * The lock session's query timeout: a leader whose liveness check gets no answer within this long stops
 * leading. Without it, a network partition left the check waiting for TCP to give up (minutes to hours), the
 * engine still subscribed, while the server could end the session and let another engine lead.
 */
const LIVENESS_MS = 10_000;

/** Namespace of skyflow's pubsub leader locks (first key of the two-int advisory lock). */
const LOCK_CLASS = 0x5f1f;

export async function startPubsubDriver(o: PubsubDriverOptions) {
  let stopped = false;
  let lockClient: pg.Client | undefined;
  const led = new Map<string, () => void>();
  let busy: Promise<void> = Promise.resolve();

  // A message exists only in memory until its runs commit: when that fails (the database restarting, say),
  // it is tried again with backoff for about half a minute. The event keeps its id, and a run's id derives
  // from it, so a try whose commit did land but went unacknowledged starts nothing twice.
  const retries = new Set<NodeJS.Timeout>();
  const delays = o.messageRetryMs ?? RETRY_MS;
  let dropped = 0;
  const startRuns = (channel: string, wfs: WorkflowDefinition[], event: TriggerEvent, attempt = 0): void => {
    if (stopped) return;
    const runs = handover(o.handoff, o.wake, undefined, o.secrets);
    const requests = wfs.map((workflow) => ({ workflow, event }));
    runs
      .after(
        poolDb(o.pool).tx(async (tx) => {
          // wait_for (src/engine/park): the message releases the runs waiting for it, in this transaction.
          // This process's engine takes those it has room for in it too (see start-runs.ts releaseLease).
          if (o.waits)
            await o.waits.release(tx.client, [event], {
              lease: runs.releaseLease(),
              commit: requests.length === 0 ? tx : undefined,
            });
          return runs.start(tx, requests, tx);
        }),
      )
      .catch((err) => {
        const delay = delays[attempt];
        if (delay === undefined || stopped || retries.size >= MAX_RETRYING) {
          dropped++;
          o.log.error(
            { channel, eventId: event.id, err: (err as Error).message },
            "pubsub trigger: could not start runs; message dropped",
          );
          return;
        }
        o.log.warn(
          { channel, eventId: event.id, err: (err as Error).message, retryInMs: delay },
          "pubsub trigger: could not start runs; retrying",
        );
        const t = setTimeout(() => {
          retries.delete(t);
          startRuns(channel, wfs, event, attempt + 1);
        }, delay);
        retries.add(t);
      });
  };

  const onMessage = (channel: string, data: unknown): void => {
    if (stopped) return;
    if (nestsDeeper(data)) {
      dropped++;
      o.log.warn(
        { channel },
        `pubsub trigger: a message nested deeper than ${MAX_EVENT_DEPTH} levels; dropped`,
      );
      return;
    }
    const now = o.clock();
    // A message is anyone's JSON: what its run's row could not store is replaced (see storable).
    const event = pubsubEvent(randomUUID(), channel, storable(data), now);
    const wfs = matchPubsub(event, o.catalog.list(), o.env, now, (wf, err) =>
      o.log.warn({ workflow: wf.name, channel, err: (err as Error).message }, "pubsub trigger `when` failed"),
    );
    if (wfs.length > 0 || o.waits?.wants(channelSource(channel))) startRuns(channel, wfs, event);
  };

  const dropAll = (): void => {
    for (const [channel, unsubscribe] of led) {
      unsubscribe();
      o.log.info({ channel }, "pubsub leadership lost");
    }
    led.clear();
  };

  /** The lock session `c` is lost (or given up): its channels are no longer led here. */
  const stopLeadingOn = (c: pg.Client): void => {
    if (lockClient !== c) return;
    lockClient = undefined;
    dropAll();
  };

  const connect = async (): Promise<pg.Client> => {
    const c = new pg.Client({
      ...(o.pool.options as pg.ClientConfig),
      application_name: "skyflow-pubsub-leader",
      query_timeout: o.livenessMs ?? LIVENESS_MS,
      // Across a partition a connect waits for TCP to give up (minutes), and stop() waits for the election
      // it is part of: bounded like the session's queries, the next election tries again.
      connectionTimeoutMillis: o.livenessMs ?? LIVENESS_MS,
    });
    c.on("error", () => {});
    c.on("end", () => stopLeadingOn(c));
    await c.connect();
    lockClient = c;
    return c;
  };

  const syncOnce = async (): Promise<void> => {
    const want = channelsInUse(o.catalog.list());
    const c = lockClient ?? (await connect());
    // A dead session means the locks are gone, and one that does not answer (its queries time out) may be
    // cut off: either way, stop leading before anyone else may start, and close it without waiting for it.
    await c.query("SELECT 1").catch((err) => {
      stopLeadingOn(c);
      void c.end().catch(() => {});
      throw err;
    });
    for (const [channel, unsubscribe] of led) {
      if (want.has(channel)) continue;
      unsubscribe();
      led.delete(channel);
      await c.query("SELECT pg_advisory_unlock($1, hashtext($2))", [LOCK_CLASS, channel]);
    }
    for (const channel of want) {
      if (led.has(channel) || stopped) continue;
      const r = await c.query<{ ok: boolean }>("SELECT pg_try_advisory_lock($1, hashtext($2)) AS ok", [
        LOCK_CLASS,
        channel,
      ]);
      if (!r.rows[0]?.ok || stopped) continue;
      led.set(
        channel,
        o.pubsub.subscribe(channel, (data) => onMessage(channel, data)),
      );
      o.log.info({ channel }, "pubsub leader: subscribed");
    }
  };
  // Elections run one at a time, and at most one waits its turn: a timer tick or catalog change while one
  // waits adds nothing (that one will see the latest catalog). Queued behind a slow election (a reconnect
  // across a partition), one per tick, they made stop() wait for every one of them.
  let queued = false;
  const sync = (): Promise<void> => {
    if (queued) return busy;
    queued = true;
    busy = busy
      .then(() => {
        queued = false;
        return stopped ? undefined : syncOnce();
      })
      .catch((err) => {
        o.log.warn({ err: (err as Error).message }, "pubsub leader election failed; retrying");
      });
    return busy;
  };

  await sync();
  const unsubscribeCatalog = o.catalog.subscribe(() => void sync());
  const timer = setInterval(() => void sync(), o.retryMs ?? 1_000);
  return {
    /** Channels this engine currently subscribes to. */
    leading: (): string[] => [...led.keys()],
    /** Messages waiting to try their runs again, and messages given up since start. */
    stats: () => ({ pubsubRetrying: retries.size, pubsubDropped: dropped }),
    async stop(): Promise<void> {
      stopped = true;
      clearInterval(timer);
      if (retries.size > 0)
        o.log.error(
          { messages: retries.size },
          "pubsub trigger stopped with messages still waiting to start runs",
        );
      dropped += retries.size;
      for (const t of retries) clearTimeout(t);
      retries.clear();
      unsubscribeCatalog();
      await busy;
      const c = lockClient;
      lockClient = undefined;
      dropAll();
      // Ending the session releases every lock, so a standby takes over at its next retry.
      await c?.end().catch(() => {});
    },
  };
}
