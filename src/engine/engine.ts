// The engine: claims runs up to its capacity, executes each with a run machine, keeps their leases, and
// wakes on engine.wake(), on NOTIFY skyflow_runs from other processes, on parked runs falling due, and on a
// slow poll. Past 250 lines because start/stop/claim/lease form one lifecycle that reads best together.

import { randomUUID } from "node:crypto";
import { EventEmitter } from "node:events";
import { hostname } from "node:os";
import type pg from "pg";
import { poolDb } from "../db/pool.js";
import type { Logger } from "../log.js";
import type { StepClients, StepKind } from "../steps/types.js";
import { settledWithin } from "../within.js";
import { type Clock, systemClock, unrefTimer } from "./clock.js";
import { compileStoredSource } from "./compile.js";
import { claimLimits, concurrencyKeyFor } from "./concurrency.js";
import type { Catalog, TriggerEvent } from "./definition/types.js";
import { runIdFor } from "./ids.js";
import { LeaseFence } from "./lease-fence.js";
import { type Listener, type ListenOptions, listen } from "./listen.js";
import type { MachineDeps } from "./machine.js";
import { checkManualEvent } from "./manual-event.js";
import { Waker } from "./park/waker.js";
import { rehearseRuns } from "./rehearse.js";
import {
  type LiveRun,
  prepareRuns,
  type RunEvent,
  type RunnerEnv,
  type StepEvent,
  startRun,
} from "./runner.js";
import { isTerminal } from "./state.js";
import { stepKinds as builtinKinds } from "./step-kinds.js";
import { SaveBatcher } from "./store/batch.js";
import {
  anyClaimable,
  type ClaimedRun,
  claimOwn,
  claimRuns,
  leaseOwnerOf,
  type RunHandoff,
} from "./store/claim.js";
import { getRun, type RunRecord, type StepTryRecord } from "./store/inspect.js";
import { fillConcurrencyKeys } from "./store/keys.js";
import { releaseRuns, renewLeases } from "./store/lease.js";
import { resolveStepInput } from "./template.js";
import { handover } from "./triggers/start-runs.js";
import { type CompileSource, createDefinitions } from "./versions.js";

export interface EngineOptions {
  pool: pg.Pool;
  catalog: Catalog;
  clients: StepClients;
  log: Logger;
  /** Names this engine in leases; a restarted engine with the same owner resumes its runs at once (claimOwn). */
  owner?: string;
  /** Runs in flight at once (default 200). */
  maxRuns?: number;
  clock?: Clock;
  /** What expressions see as `env`. */
  env?: Record<string, string>;
  /** Lease length (default 30000); renewed every third of it. */
  leaseMs?: number;
  /** Safety-net poll interval (default 1000), on the clock. */
  pollMs?: number;
  /** Retry waits at least this long release the run's actor and lease (default 5000). */
  parkAfterMs?: number;
  /** Step kinds (default: the built-in registry); tests add their own. */
  stepKinds?: Record<string, StepKind>;
  /** Jitter source (default Math.random). */
  random?: () => number;
  /** Strings scrubbed from stored inputs and outputs (the keys). */
  secrets?: string[];
  /** Claim only these run ids (read at every claim; `skyflow trigger` adds its run). Default: any run. */
  claimOnly?: string[];
  /** Recompiles a stored workflow version (default: the definition loader's loadWorkflowSource). */
  compile?: CompileSource;
  /** Opens its LISTEN (default: a connection of its own; the daemon's ListenHub shares one). */
  listen?: (o: ListenOptions) => Listener;
}

export type RunDetails = RunRecord & { tries: StepTryRecord[] };

export interface Engine {
  start(): Promise<void>;
  trigger(workflow: string, event?: Partial<TriggerEvent>): Promise<{ runId: string }>;
  waitForRun(runId: string, timeoutMs?: number): Promise<RunDetails>;
  wake(): void;
  /** For triggers in this process: runs they create leased to this engine, handed over without a claim. */
  handoff(): RunHandoff;
  stop(opts?: { graceMs?: number }): Promise<void>;
  inFlight(): number;
  /** Cancels a run executing in this engine; false when it is not here. */
  cancel(runId: string): boolean;
  on(event: "run", listener: (e: RunEvent) => void): this;
  on(event: "step", listener: (e: StepEvent) => void): this;
  off(event: "run", listener: (e: RunEvent) => void): this;
  off(event: "step", listener: (e: StepEvent) => void): this;
}

const CLAIM_BATCH = 100;
/**
 * Runs handed over early (RunHandoff.launch) at most this many at once start in the trigger's own turn, their
 * first statements before its insert (start-runs.ts FIRST_BEFORE_INSERT); more start after it is sent.
 */
const START_NOW_MAX = 4;
/** How long stop() waits for a claim in flight (one answers in milliseconds while the database does). */
const PUMP_STOP_WAIT_MS = 1000;

class EngineImpl extends EventEmitter implements Engine {
  /** The configured owner name (EngineOptions.owner). */
  private readonly name: string;
  /** What this engine's leases hold: the name and this engine object's incarnation (see leaseOwnerOf). */
  private readonly owner: string;
  private readonly maxRuns: number;
  private readonly leaseMs: number;
  private readonly pollMs: number;
  /** Room promised to triggers for runs they are creating leased to this engine (see handoff). */
  private reserved = 0;
  /** Triggers waiting for room (see RunHandoff.whenRoom): how much each wants, and its wake-up. */
  private readonly roomWaits = new Set<{ n: number; settle: () => void }>();
  /** Workflow versions this engine's manual runs have stored (see handover). */
  private readonly storedVersions = new Set<string>();
  private readonly clock: Clock;
  private readonly live = new Map<string, LiveRun>();
  private readonly defs;
  private readonly deps: MachineDeps;
  private listener: Listener | undefined;
  private readonly batcher: SaveBatcher;
  private running = false;
  private pumping: Promise<void> | undefined;
  private again = false;
  /**
   * Pending runs may be left for this engine: its last claim filled all the room it asked for, or a wake-up
   * found no room. Only then does a run's end trigger a claim; otherwise the queue is known empty until a
   * wake-up (a trigger, NOTIFY, the poll, a parked run falling due) says otherwise.
   */
  private backlog = true;
  /** The next claim also looks for in-flight runs to resume (see ClaimOptions.resumable). */
  private sweep = true;
  /** Workflows with a concurrency limit, as of the last claim: their runs' ends free a queued run's turn. */
  private limitedNames = new Set<string>();
  /** Lease renewal: on real time, as leases run out by the database's clock (see clock.ts). */
  private renewTimer: NodeJS.Timeout | undefined;
  private pollTimer: unknown;
  /** Stops executing the runs whose lease this engine could not renew in time (a network partition). */
  private readonly fence: LeaseFence;
  private renewing = false;
  /** The poll's question (pollWake) is in flight. */
  private probing = false;
  /** The one wake timer for parked runs, which also ends due sleeps (park/waker.ts). */
  private readonly waker: Waker;
  /** Ends the catalog subscription that prepares new versions' machines (see prepareRuns). */
  private unprepare: (() => void) | undefined;

  constructor(private readonly o: EngineOptions) {
    super();
    this.name = o.owner ?? `${hostname()}:${process.pid}`;
    this.owner = leaseOwnerOf(this.name, randomUUID().slice(0, 8));
    this.maxRuns = o.maxRuns ?? 200;
    this.leaseMs = o.leaseMs ?? 30_000;
    this.pollMs = o.pollMs ?? 1000;
    this.clock = o.clock ?? systemClock;
    this.defs = createDefinitions(o.pool, o.catalog, o.compile ?? compileStoredSource);
    this.deps = {
      stepKinds: o.stepKinds ?? builtinKinds,
      clients: o.clients,
      log: o.log,
      env: o.env ?? {},
      now: () => this.clock.now(),
      random: o.random ?? Math.random,
      parkAfterMs: o.parkAfterMs ?? 5000,
      resolve: resolveStepInput,
      clock: this.clock,
    };
    // A save of a running run extends its lease, as a renewal does (a renewal skips the rows a save holds).
    this.batcher = new SaveBatcher(poolDb(o.pool), {
      leaseMs: this.leaseMs,
      onLeased: (ids, sentAt) => this.fence.confirm(ids, sentAt),
    });
    this.fence = new LeaseFence(this.leaseMs, (id) => this.expire(id));
    this.waker = new Waker({
      db: o.pool,
      log: o.log,
      onDue: () => this.wake(),
      horizonMs: this.pollMs * 2,
      clock: this.clock,
    });
  }

  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    // The workflows' machines before their first runs, and again as reloads bring new versions.
    prepareRuns(this.o.catalog.list(), this.deps);
    this.unprepare = this.o.catalog.subscribe(() => prepareRuns(this.o.catalog.list(), this.deps));
    this.waker.start();
    this.listener = (this.o.listen ?? listen)({
      connection: this.o.pool.options,
      channels: ["skyflow_runs"],
      onNotify: () => this.wake(),
      // Runs queued while the connection was down notified nobody here: look for them.
      onListening: () => this.wake(),
      log: this.o.log,
      name: "skyflow-listen-runs",
    });
    await this.listener.ready;
    for (;;) {
      const free = this.maxRuns - this.live.size;
      if (free <= 0) break;
      const sentAt = performance.now();
      const own = await claimOwn(
        this.o.pool,
        this.name,
        this.owner,
        this.leaseMs,
        Math.min(free, CLAIM_BATCH),
      );
      for (const r of own) this.launch(r, sentAt);
      if (own.length < Math.min(free, CLAIM_BATCH)) break;
    }
    this.schedulePoll();
    this.renewTimer = setInterval(() => void this.renew(), Math.max(50, Math.floor(this.leaseMs / 3)));
    this.renewTimer.unref();
    this.wake();
  }

  private schedulePoll(): void {
    this.pollTimer = this.clock.setTimeout(() => {
      if (!this.running) return;
      this.schedulePoll();
      this.pollWake();
      // Parked runs falling due before the next poll: the waker's timer, set even when this engine has no
      // room (a claim sweep sets it too, but an engine with no room does not sweep).
      void this.waker.check();
    }, this.pollMs);
    unrefTimer(this.pollTimer);
  }

  /**
   * The poll's wake-up: a claim only when there is something to claim (anyClaimable), or when that cannot
   * be told. One question at a time: across a network partition they would pile up on the pool.
   */
  private pollWake(): void {
    if (this.probing) return;
    // A claim in flight looks again anyway.
    if (this.pumping) {
      this.wake();
      return;
    }
    this.probing = true;
    anyClaimable(this.o.pool, this.leaseMs).then(
      (any) => {
        this.probing = false;
        if (any) this.wake();
      },
      () => {
        this.probing = false;
        this.wake();
      },
    );
  }

  wake(): void {
    this.backlog = true;
    this.sweep = true;
    if (this.running) void this.pump();
  }

  handoff(): RunHandoff {
    return {
      owner: this.owner,
      leaseMs: this.leaseMs,
      reserve: (n) => {
        const k = Math.max(0, Math.min(n, this.freeRoom()));
        this.reserved += k;
        return k;
      },
      adopt: (runs, reserved, leasedAt) => {
        this.reserved -= reserved;
        if (this.running) {
          const at = leasedAt ?? performance.now();
          for (const r of runs) this.launch(r, at);
          this.roomMade();
        } else if (runs.length > 0) {
          // Stopped meanwhile: give them back to the queue, for any engine.
          releaseRuns(
            this.o.pool,
            this.owner,
            runs.map((r) => r.id),
          ).catch((err) => this.o.log.error({ err: String(err) }, "could not release handed-over runs"));
        }
      },
      launch: (runs, leasedAt) => this.launchEarly(runs, leasedAt),
      rehearse: async (runs) => {
        await rehearseRuns(this.runnerEnv(), runs);
      },
      room: () => this.freeRoom(),
      whenRoom: (n, ms) =>
        new Promise<void>((resolve) => {
          const w = { n: Math.max(1, Math.min(n, Math.ceil(this.maxRuns / 4))), settle: () => {} };
          if (!this.running || this.o.claimOnly || this.freeRoom() >= w.n) return resolve();
          const timer = setTimeout(() => w.settle(), ms);
          w.settle = () => {
            clearTimeout(timer);
            this.roomWaits.delete(w);
            resolve();
          };
          this.roomWaits.add(w);
        }),
    };
  }

  /**
   * RunHandoff.launch: the runs start now, their writes held until their row is committed (runner.ts). One
   * whose row was not created is stopped, and one whose row committed only after this engine stopped (and
   * gave back its runs) is given back then, for any engine.
   */
  private launchEarly(runs: ClaimedRun[], leasedAt: number): ClaimedRun[] {
    if (!this.running) return [];
    const out: ClaimedRun[] = [];
    // A few (a change at a time) start in this turn, up to their first statements; a batch's machines run
    // once the trigger's insert is sent, as runs claimed do.
    const now = runs.length <= START_NOW_MAX;
    for (const r of runs) {
      if (this.live.has(r.id)) continue;
      this.launch(r, leasedAt, now);
      const live = this.live.get(r.id);
      out.push(r);
      r.ready?.then(
        () => {
          if (!this.running && this.live.get(r.id) !== live)
            releaseRuns(this.o.pool, this.owner, [r.id]).catch(() => {});
        },
        () => {
          if (this.live.get(r.id) === live) this.haltHere(r.id);
        },
      );
    }
    return out;
  }

  private freeRoom(): number {
    if (!this.running || this.o.claimOnly) return 0;
    return Math.max(0, this.maxRuns - this.live.size - this.reserved);
  }

  /** Wakes the triggers waiting for as much room as there is now (all of them once stopped). */
  private roomMade(): void {
    if (this.roomWaits.size === 0) return;
    const room = this.running ? this.freeRoom() : Number.POSITIVE_INFINITY;
    for (const w of this.roomWaits) if (room >= w.n) w.settle();
  }

  inFlight(): number {
    return this.live.size;
  }

  cancel(runId: string): boolean {
    const run = this.live.get(runId);
    run?.cancel();
    return run !== undefined;
  }

  async trigger(workflow: string, event: Partial<TriggerEvent> = {}): Promise<{ runId: string }> {
    const def = this.o.catalog.get(workflow);
    if (!def) throw new Error(`no workflow named "${workflow}"`);
    checkManualEvent(event);
    const ev: TriggerEvent = {
      ...event,
      id: event.id ?? randomUUID(),
      type: event.type ?? "manual",
      at: event.at ?? new Date(this.clock.now()).toISOString(),
    };
    const key = concurrencyKeyFor(def, ev, { env: this.o.env, now: new Date(this.clock.now()) });
    // As a trigger's runs: created leased to this engine when it has room (and the workflow no concurrency
    // limit) and started at once; otherwise queued, and the engine woken to claim it.
    const runs = handover(this.handoff(), () => this.wake(), this.storedVersions, this.o.secrets);
    const created = await runs.after(
      runs.start(this.o.pool, [{ workflow: def, event: ev, concurrencyKey: key }]),
    );
    let runId = created[0]?.id;
    if (!runId) {
      // The run of that event: by its derived id, or (a run stored before ids were derived, migration 125)
      // by workflow and event id, which only such a database still indexes.
      const q = async (where: string, values: string[]) =>
        (await this.o.pool.query<{ id: string }>(`SELECT id FROM skyflow.runs WHERE ${where}`, values)).rows;
      let rows = await q("id = $1", [runIdFor(workflow, ev.id)]);
      if (rows.length === 0) rows = await q("workflow = $1 AND event_id = $2", [workflow, ev.id]);
      runId = rows[0]!.id;
      this.wake();
    }
    return { runId };
  }

  async waitForRun(runId: string, timeoutMs = 60_000): Promise<RunDetails> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      // Listening before reading: a run that ends while its row is read is not waited for until the timer.
      const next = this.nextRunEvent(runId, Math.max(0, Math.min(deadline - Date.now(), 200)));
      try {
        const run = await getRun(this.o.pool, runId);
        if (!run) throw new Error(`no run ${runId}`);
        if (isTerminal(run.status)) return run;
        if (deadline - Date.now() <= 0)
          throw new Error(`run ${runId} still ${run.status} after ${timeoutMs}ms`);
        await next.ended;
      } finally {
        next.cancel();
      }
    }
  }

  async stop(opts: { graceMs?: number } = {}): Promise<void> {
    this.running = false;
    this.unprepare?.();
    this.unprepare = undefined;
    this.roomMade();
    if (this.pollTimer !== undefined) this.clock.clearTimeout(this.pollTimer);
    this.pollTimer = undefined;
    clearInterval(this.renewTimer);
    this.renewTimer = undefined;
    await this.waker.stop();
    await this.listener?.close();
    this.listener = undefined;
    // A claim in flight across a network partition never answers: stopping does not wait for the network.
    await settledWithin(this.pumping, PUMP_STOP_WAIT_MS);
    const grace = opts.graceMs ?? 10_000;
    const all = Promise.all([...this.live.values()].map((r) => r.done));
    await settledWithin(all, grace);
    const rest = [...this.live.values()];
    for (const r of rest) r.halt();
    // Saves of halted runs still in flight lock their rows: let them land before releasing those rows.
    await this.batcher.idle();
    await releaseRuns(
      this.o.pool,
      this.owner,
      rest.map((r) => r.id),
    ).catch((err) => this.o.log.error({ err: String(err) }, "could not release runs"));
    this.live.clear();
    this.fence.clear();
  }

  /** Settles when the run ends here or after `ms`, whichever comes first; `cancel` stops listening. */
  private nextRunEvent(runId: string, ms: number): { ended: Promise<void>; cancel(): void } {
    let done!: () => void;
    const ended = new Promise<void>((resolve) => {
      done = () => {
        clearTimeout(timer);
        this.off("run", onRun);
        resolve();
      };
    });
    const onRun = (e: RunEvent) => {
      if (e.runId === runId && e.type !== "started" && e.type !== "resumed") done();
    };
    const timer = setTimeout(done, ms);
    this.on("run", onRun);
    return { ended, cancel: done };
  }

  private pump(): Promise<void> {
    if (this.pumping) {
      this.again = true;
      return this.pumping;
    }
    this.pumping = this.claimLoop().finally(() => {
      this.pumping = undefined;
    });
    return this.pumping;
  }

  private async claimLoop(): Promise<void> {
    try {
      do {
        this.again = false;
        if (!this.running) break;
        const want = Math.min(this.maxRuns - this.live.size - this.reserved, CLAIM_BATCH);
        if (want <= 0) {
          this.backlog = true; // no room to look: the next run to end looks
          break;
        }
        const defs = this.o.catalog.list();
        const limited = claimLimits(defs);
        this.limitedNames = new Set(limited.map((l) => l.workflow));
        if (limited.length > 0) await fillConcurrencyKeys(this.o.pool, defs, this.o.env ?? {});
        const resumable = this.sweep;
        this.sweep = false;
        const sentAt = performance.now();
        const claimed = await claimRuns(poolDb(this.o.pool), {
          owner: this.owner,
          leaseMs: this.leaseMs,
          limit: want,
          limited,
          resumable,
        });
        // Stopped while the claim was in flight (stop() waits for it only so long, see PUMP_STOP_WAIT_MS): the
        // runs are not executed here; their leases run out and another engine resumes them, as after a crash.
        if (!this.running) break;
        for (const r of claimed) this.launch(r, sentAt);
        // Parked runs (src/engine/park): this engine's one wake timer, for the next one due anywhere. A full
        // claim may have left more runs due (a thousand sleeps ending in the same second): look again.
        if (resumable) void this.waker.check();
        if (resumable && claimed.length === want) this.sweep = true;
        this.backlog = claimed.length === want;
        if (this.backlog) this.again = true;
      } while (this.again);
    } catch (err) {
      if (this.running) this.o.log.error({ err: String(err) }, "claiming runs failed; the poll retries");
    }
  }

  private runner: RunnerEnv | undefined;

  /** What every run needs from the engine: one object for all of them, not one per run. */
  private runnerEnv(): RunnerEnv {
    this.runner ??= {
      pool: this.o.pool,
      owner: this.owner,
      clock: this.clock,
      log: this.o.log,
      deps: this.deps,
      batcher: this.batcher,
      secrets: this.o.secrets ?? [],
      definitionFor: (w, v) => this.defs.definitionFor(w, v),
      workflow: (name) => this.o.catalog.get(name),
      onRun: (e) => this.emit("run", e),
      onStep: (e) => this.emit("step", e),
    };
    return this.runner;
  }

  /** `leasedAt`: a moment (performance.now()) before the statement that leased the run to this engine. */
  private launch(r: ClaimedRun, leasedAt: number, now = false): void {
    if (this.live.has(r.id)) return;
    const live = startRun(this.runnerEnv(), r, now);
    this.live.set(r.id, live);
    this.fence.track(r.id, leasedAt);
    void live.done.then((outcome) => {
      if (this.live.get(r.id) === live) {
        this.live.delete(r.id);
        this.fence.forget(r.id);
      }
      // A parked run due soon gets this engine's one wake timer; later ones are found by the poll's waker.
      if (outcome === "parked" && live.parkedMs !== undefined) this.waker.dueIn(live.parkedMs);
      if (outcome !== "stopped" && (this.backlog || this.limitedNames.has(r.workflow))) void this.pump();
      this.roomMade();
    });
  }

  private async renew(): Promise<void> {
    const ids = [...this.live.keys()];
    // One renewal at a time: across a partition they would pile up on the pool, each waiting for TCP.
    if (ids.length === 0 || this.renewing) return;
    this.renewing = true;
    const sentAt = performance.now();
    try {
      const { renewed, lost } = await renewLeases(this.o.pool, this.owner, ids, this.leaseMs);
      this.fence.confirm(renewed, sentAt);
      for (const id of lost) {
        if (this.haltHere(id))
          this.o.log.warn({ runId: id }, "lease lost; this engine stops executing the run");
      }
    } catch (err) {
      this.o.log.error({ err: String(err) }, "lease renewal failed");
    } finally {
      this.renewing = false;
    }
  }

  /** Cut off from the database past the run's lease (see LeaseFence): stop executing it before anyone else may. */
  private expire(id: string): void {
    if (this.haltHere(id))
      this.o.log.error(
        { runId: id },
        "lease not renewed in time (is the database reachable?); this engine stops executing the run",
      );
  }

  /** Stops executing run `id` here, without a save (its lease is gone or about to be); false if not here. */
  private haltHere(id: string): boolean {
    const run = this.live.get(id);
    if (!run) return false;
    this.live.delete(id);
    this.fence.forget(id);
    run.halt();
    return true;
  }
}

export function createEngine(opts: EngineOptions): Engine {
  return new EngineImpl(opts);
}
