// A rehearsal of new runs: the runner's real code (runner.ts, run-io.ts, the machine, the first step's input
// evaluated, a `sql` step's statement built and "sent") driven against nothing. Its pool answers every
// statement itself without a connection, its saves are refused, its runs report to nobody and log nothing,
// and every step kind but `sql` (whose only client is that pool) is a stand-in that returns at once. A fresh
// daemon's first runs paid for V8 compiling all of that on their way to their first statement (15-20 ms for
// the first record; about 40% of the process's CPU per record in its first 10 s): a rehearsal at start pays
// it before any change waits for it (see triggers/record/rehearse.ts). No I/O.
import pg from "pg";
import { Batch } from "../db/batch.js";
import { silentLogger } from "../log.js";
import type { StepClients, StepKind } from "../steps/types.js";
import { type RunnerEnv, startRun } from "./runner.js";
import type { SaveBatcher } from "./store/batch.js";
import type { ClaimedRun } from "./store/claim.js";

/** How long a rehearsal waits for its runs to end before halting them (they end within milliseconds). */
const REHEARSAL_MS = 2_000;

/** The step kinds a rehearsal runs for real: those whose only I/O is StepClients.pool (the dry one). */
const REAL_KINDS = new Set(["sql"]);

/** What the last rehearsal did: its runs, how many ended by themselves, the statements its pool "sent". */
export interface Rehearsal {
  runs: number;
  ended: number;
  statements: string[];
}

let last: Rehearsal | undefined;

/** The last rehearsal in this process (tests, and a debug line: that one ran, and how far it got). */
export const lastRehearsal = (): Rehearsal | undefined => last;

/** What a statement answers in a rehearsal: no rows; a COMMIT says it committed. */
function dryResult(text: string): pg.QueryResult {
  const command = /^\s*(\w+)/.exec(text)?.[1]?.toUpperCase() ?? "";
  return { command, rowCount: 0, oid: 0, rows: [], fields: [] } as pg.QueryResult;
}

/**
 * A pg client that sends nothing: every query is answered (in a later turn, as from a socket) with no rows.
 * It has what db/pool.ts pipelined() reaches into (a Batch's answers; the connection's stream and the
 * pipeline flag for statements sent a Sync each).
 */
function dryClient(sent?: string[]): pg.PoolClient {
  const answer = (text: string, cb: (err: Error | undefined, r: pg.QueryResult) => void) => {
    if (sent && sent.length < 100) sent.push(text);
    setImmediate(() => cb(undefined, dryResult(text)));
  };
  const client = {
    pipeline: false,
    processID: 0,
    connection: { stream: {} },
    query(q: unknown, values?: unknown, cb?: unknown) {
      if (q instanceof Batch) {
        // Each command answered as the server's messages would (pipelined's batch behind one Sync).
        for (const c of q.commands) if (sent && sent.length < 100) sent.push(c.text);
        setImmediate(() => {
          for (const c of q.commands) q.handleCommandComplete({ text: dryResult(c.text).command });
          q.handleReadyForQuery();
        });
        return undefined;
      }
      if (q instanceof pg.Query) {
        const query = q as unknown as { text: string; callback?: (e: Error | undefined, r: unknown) => void };
        answer(query.text, (e, r) => query.callback?.(e, r));
        return undefined;
      }
      const text = typeof q === "string" ? q : ((q as { text?: string }).text ?? "");
      const callback = typeof values === "function" ? values : cb;
      if (typeof callback === "function") {
        answer(text, callback as never);
        return undefined;
      }
      return new Promise((resolve) => answer(text, (_e, r) => resolve(r)));
    },
    release() {},
    on() {
      return client;
    },
  };
  return client as unknown as pg.PoolClient;
}

/** A pg Pool of dry clients (see dryClient): nothing connects, nothing is sent. */
export function dryPool(sent?: string[]): pg.Pool {
  const pool = {
    options: { max: 1 },
    totalCount: 0,
    idleCount: 0,
    connect: () => Promise.resolve(dryClient(sent)),
    query: (q: unknown, values?: unknown) => dryClient(sent).query(q as never, values as never),
    on: () => pool,
    end: () => Promise.resolve(),
  };
  return pool as unknown as pg.Pool;
}

/** A stand-in for a kind not run for real: returns at once (committing with a dry client if it commits). */
function standIn(kind: StepKind, sent: string[]): StepKind {
  return {
    kind: kind.kind,
    transactional: kind.transactional,
    async run(ctx) {
      if (ctx.commit) await ctx.commit(dryClient(sent), {});
      return {};
    },
  };
}

/** The engine's runner environment with nothing in it that reaches outside the process. */
export function dryRunnerEnv(env: RunnerEnv, sent: string[] = []): RunnerEnv {
  const pool = dryPool(sent);
  const log = silentLogger();
  const kinds: Record<string, StepKind> = {};
  for (const [name, kind] of Object.entries(env.deps.stepKinds))
    kinds[name] = REAL_KINDS.has(name) ? kind : standIn(kind, sent);
  // Only the pool and the schema: a kind that reached for another client would fail its try, no more.
  const clients = {
    pool,
    appSchema: env.deps.clients.appSchema,
    ...(env.deps.clients.sqlGroup === undefined ? {} : { sqlGroup: env.deps.clients.sqlGroup }),
  } as StepClients;
  // Every save refused: a run that goes on past its first step's COMMIT is given up there.
  const batcher = { save: async () => false, idle: async () => {} } as unknown as SaveBatcher;
  return {
    ...env,
    pool,
    log,
    batcher,
    deps: { ...env.deps, log, clients, stepKinds: kinds },
    onRun: () => {},
    onStep: () => {},
  };
}

/**
 * Executes `runs` in the dry environment of `env` (see dryRunnerEnv) and settles once they have ended
 * (halted after REHEARSAL_MS); returns how many ended by themselves. Never throws.
 */
export async function rehearseRuns(env: RunnerEnv, runs: ClaimedRun[]): Promise<number> {
  if (runs.length === 0) return 0;
  const statements: string[] = [];
  const dry = dryRunnerEnv(env, statements);
  let ended = 0;
  await Promise.all(
    runs.map(async (run) => {
      try {
        const live = startRun(dry, run);
        let timer: NodeJS.Timeout | undefined;
        const late = new Promise<"late">((r) => {
          timer = setTimeout(() => r("late"), REHEARSAL_MS);
        });
        const outcome = await Promise.race([live.done, late]);
        clearTimeout(timer);
        if (outcome === "late") live.halt();
        else ended++;
      } catch (err) {
        env.log.debug({ err: (err as Error).message }, "run rehearsal failed");
      }
    }),
  );
  last = { runs: runs.length, ended, statements };
  env.log.debug({ runs: runs.length, ended, statements: statements.length }, "runs rehearsed");
  return ended;
}
