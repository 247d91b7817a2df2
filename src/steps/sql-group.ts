// Group commit of `sql` steps: those ready in the same turn of the event loop while another runs, with the
// same pool, app schema and statement, run in one transaction on one connection, each try's record in it,
// with one COMMIT. Purely an optimisation: when the group's transaction rolls back, for any reason, every
// member runs alone (sql.ts), as if the group had never been; when its COMMIT may have landed (no answer),
// every member's commit fails as a lone step's would (the run is given up, and its resume reads what
// committed).
//
// What members share, unlike lone steps: one transaction timestamp (now()); settings a statement changes for
// its transaction (set_config(..., true)) and its locks, held until the group commits; the wait for the
// slowest member (its statement, its run's row: run-io.ts `ready`), during which every member's timeout
// runs. A failing member makes the others' statements run twice (the first time rolled back: a sequence's
// values are spent), and its statement then goes alone for ALONE_AFTER_ROLLBACK_MS. One group of a statement
// is in flight at a time (see Key). Only parameterised statements join: one command, prepared, never a text
// that could end the transaction itself (a simple query may hold several commands, a COMMIT among them).

import type pg from "pg";
import { ident, pipelined, type Statement } from "../db/pool.js";
import { isPgError } from "./classify.js";
import type { SharedCommit, StepContext } from "./types.js";

/**
 * Members at most in one group. With one group of a statement in flight at a time (see Key), those ready
 * meanwhile wait for it: bench/peers.ts backlog (one INSERT) drained at 0.68x and 0.69x the rate of
 * unbounded groups of 8 with 16 and 8, and at 1.02x (0.89-1.11) with 32. A larger group waits longer for
 * its slowest member, and runs more again alone when one fails.
 */
export const GROUP_MAX = 32;

/** After a group of a statement rolled back, that statement's steps go alone this long. */
export const ALONE_AFTER_ROLLBACK_MS = 1_000;

/**
 * Steps waiting behind a group of their statement in flight this long go alone: one statement waiting on a
 * lock (or slow) must not hold up every step of its text. A group under load commits within 10-20 ms.
 */
export const STUCK_MS = 100;

/** What a member is told instead of a result: run alone (lone in its turn, or its group rolled back). */
const ALONE = Symbol("alone");

/** A member's record was sent in a group whose transaction rolled back: the member is to run alone. */
export class GroupRolledBack extends Error {
  constructor() {
    super("the group's transaction rolled back; the step runs alone");
  }
}

interface Member<O> {
  ctx: StepContext<unknown>;
  statement: Statement;
  output: (r: pg.QueryResult) => O;
  settle: (r: O | typeof ALONE) => void;
  fail: (err: unknown) => void;
}

/**
 * The steps of one pool, app schema and statement waiting to group, and whether a group of theirs is in
 * flight: one at a time, so that two groups of one statement never hold locks the other waits for (lone
 * steps of a single statement each cannot close such a cycle; two groups updating the same rows in other
 * orders would deadlock, where the steps alone only queued).
 */
interface Key {
  list: Member<unknown>[];
  flying: boolean;
  /** Date.now() until which this statement's steps go alone: its last group rolled back (a failing
   * statement often fails again, and each failure runs a whole group twice). */
  aloneUntil: number;
  /** When the group in flight was sent, and the timer that lets those behind it go alone. */
  since: number;
  timer: NodeJS.Timeout | undefined;
}

const keys = new Map<pg.Pool, Map<string, Key>>();
let scheduled = false;
// Transactions of steps that could group (alone or grouped) still running, by pool.
const busy = new Map<pg.Pool, number>();

/**
 * The step's output: from its group's COMMIT, or from `alone`. A step ready while none of its pool's is
 * running goes alone at once: nothing is waited for (at 100 runs a second, a step waiting for the end of its
 * turn started 0.4 ms later at the median), and whoever comes while it runs may group. Others wait for the
 * end of the turn they joined in (setImmediate: after the I/O callbacks that made their peers ready too), no
 * longer.
 */
export async function inGroup<O>(
  ctx: StepContext<unknown>,
  statement: Statement,
  output: (r: pg.QueryResult) => O,
  alone: () => Promise<O>,
): Promise<O> {
  const pool = ctx.clients.pool;
  if (busy.has(pool)) {
    const r = await joinGroup(ctx, statement, output);
    if (r !== ALONE) return r;
    if (ctx.signal.aborted) throw ctx.signal.reason;
  }
  return running(pool, alone);
}

async function running<T>(pool: pg.Pool, fn: () => Promise<T>): Promise<T> {
  busy.set(pool, (busy.get(pool) ?? 0) + 1);
  try {
    return await fn();
  } finally {
    const n = busy.get(pool)! - 1;
    if (n === 0) busy.delete(pool);
    else busy.set(pool, n);
  }
}

function joinGroup<O>(
  ctx: StepContext<unknown>,
  statement: Statement,
  output: (r: pg.QueryResult) => O,
): Promise<O | typeof ALONE> {
  return new Promise((settle, fail) => {
    const pool = ctx.clients.pool;
    let byKey = keys.get(pool);
    if (!byKey) {
      byKey = new Map();
      keys.set(pool, byKey);
    }
    const name = `${ctx.clients.appSchema}\u0000${statement.text}`;
    let k = byKey.get(name);
    if (!k) {
      k = { list: [], flying: false, aloneUntil: 0, since: 0, timer: undefined };
      byKey.set(name, k);
    }
    if (k.aloneUntil > Date.now()) {
      settle(ALONE);
      return;
    }
    k.list.push({ ctx, statement, output, settle, fail } as Member<unknown>);
    if (!k.flying && k.list.length >= GROUP_MAX) launch(pool, k);
    else schedule();
  });
}

function schedule(): void {
  if (scheduled) return;
  scheduled = true;
  setImmediate(flush);
}

function flush(): void {
  scheduled = false;
  for (const [pool, byKey] of keys)
    for (const [name, k] of byKey) {
      if (!k.flying) launch(pool, k);
      else if (k.list.length > 0) stuck(k);
      if (!k.flying && k.list.length === 0 && k.aloneUntil <= Date.now()) byKey.delete(name);
      if (byKey.size === 0) keys.delete(pool);
    }
}

/** A group of those waiting (one alone goes alone); those past GROUP_MAX wait for its end. */
function launch(pool: pg.Pool, k: Key): void {
  const list = k.list.splice(0, GROUP_MAX);
  if (list.length === 1) list[0]!.settle(ALONE);
  if (list.length < 2) return;
  k.flying = true;
  k.since = Date.now();
  void running(pool, () => runGroup(pool, list)).then((outcome) => {
    if (outcome === "rolledBack") k.aloneUntil = Date.now() + ALONE_AFTER_ROLLBACK_MS;
    k.flying = false;
    if (k.timer) clearTimeout(k.timer);
    k.timer = undefined;
    schedule();
  });
}

/** Those waiting behind a group in flight since STUCK_MS go alone; until then, a timer looks again. */
function stuck(k: Key): void {
  const left = k.since + STUCK_MS - Date.now();
  if (left <= 0) {
    for (const m of k.list.splice(0)) m.settle(ALONE);
    return;
  }
  if (k.timer) return;
  k.timer = setTimeout(() => {
    k.timer = undefined;
    schedule();
  }, left);
  k.timer.unref();
}

/** A slot of the group's commit: takes its member's record (commit-try.ts) and answers once all are sent. */
class Slot implements SharedCommit {
  statement: Statement | undefined;
  before: string | undefined;
  submitted!: () => void;
  readonly entered = new Promise<void>((r) => {
    this.submitted = r;
  });
  private answer!: { ok: () => void; no: (err: unknown) => void };
  private readonly done = new Promise<void>((ok, no) => {
    this.answer = { ok, no };
  });

  constructor() {
    // A slot whose member never sent its record is failed all the same, and heard by no one.
    this.done.catch(() => {});
  }

  commitWith(s: Statement, before?: string): Promise<void> {
    this.statement = s;
    this.before = before;
    this.submitted();
    return this.done;
  }
  committed(): void {
    this.answer.ok();
  }
  failed(err: unknown): void {
    this.answer.no(err);
  }
}

type Outcome = "committed" | "rolledBack" | "unknown";

async function runGroup(pool: pg.Pool, members: Member<unknown>[]): Promise<Outcome | undefined> {
  // One aborted meanwhile ends alone (sql.ts throws its abort); the others group without it.
  const live = members.filter((m) => !m.ctx.signal.aborted);
  for (const m of members) if (m.ctx.signal.aborted) m.settle(ALONE);
  if (live.length < 2) {
    for (const m of live) m.settle(ALONE);
    return;
  }
  let client: pg.PoolClient;
  try {
    client = await pool.connect();
  } catch {
    for (const m of live) m.settle(ALONE);
    return;
  }
  // An abort while the statements run cancels them (the group rolls back); once the records are sent, the
  // COMMIT decides, as it does for a lone step (machine.ts: the step has returned).
  let cancelling = true;
  let discard = false;
  const onAbort = () => {
    if (!cancelling) return;
    discard = true;
    void cancelBackend(pool, (client as unknown as { processID?: number }).processID);
  };
  for (const m of live) m.ctx.signal.addEventListener("abort", onAbort, { once: true });
  let outcome: Outcome = "rolledBack";
  let commits: Promise<unknown>[] = [];
  let outs: unknown[] = [];
  try {
    const rs = await pipelined(client, [
      `BEGIN; SET LOCAL search_path TO ${ident(live[0]!.ctx.clients.appSchema)}, public`,
      ...live.map((m) => m.statement),
    ]);
    outs = live.map((m, i) => m.output(rs[i + 1]!));
    const slots = live.map(() => new Slot());
    commits = live.map((m, i) => m.ctx.commit!(slots[i]!, outs[i]));
    // Each member's record, or its commit's failure before it sent one (aborted, cancelled, lease lost).
    const sent = await Promise.all(
      slots.map((s, i) =>
        Promise.race([
          s.entered.then(() => true),
          commits[i]!.then(
            () => false,
            () => false,
          ),
        ]),
      ),
    );
    cancelling = false;
    if (sent.every(Boolean)) outcome = await commitAll(client, slots);
    for (const s of slots) if (outcome === "rolledBack") s.failed(new GroupRolledBack());
  } catch (err) {
    if (isStalePlan(err)) discard = true;
    if (!isPgError(err)) discard = true;
  } finally {
    cancelling = false;
    for (const m of live) m.ctx.signal.removeEventListener("abort", onAbort);
  }
  if (outcome !== "committed" && !discard) await client.query("ROLLBACK").catch(() => {});
  client.release(discard || outcome === "unknown" || undefined);
  live.forEach((m, i) => {
    const c = commits[i];
    if (!c) m.settle(ALONE);
    else
      c.then(
        () => m.settle(outcome === "committed" ? outs[i] : ALONE),
        (err) => (outcome === "rolledBack" ? m.settle(ALONE) : m.fail(err)),
      );
  });
  return outcome;
}

/**
 * The records and the COMMIT, in one round trip. An error the server answered (before or at the COMMIT)
 * rolled the transaction back; with no answer, the COMMIT may have landed.
 */
async function commitAll(client: pg.PoolClient, slots: Slot[]): Promise<Outcome> {
  try {
    const before = [...new Set(slots.flatMap((s) => (s.before ? [s.before] : [])))];
    const rs = await pipelined(client, [...before, ...slots.map((s) => s.statement!), "COMMIT"]);
    if (rs[rs.length - 1]!.command !== "COMMIT") return "rolledBack";
    for (const s of slots) s.committed();
    return "committed";
  } catch (err) {
    if (isPgError(err) && !err.code.startsWith("08") && !err.code.startsWith("57P")) return "rolledBack";
    for (const s of slots) s.failed(err);
    return "unknown";
  }
}

export function isStalePlan(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown };
  return e?.code === "0A000" && typeof e.message === "string" && e.message.includes("cached plan");
}

export async function cancelBackend(pool: pg.Pool, pid: number | undefined): Promise<void> {
  if (!pid) return;
  await pool.query("SELECT pg_cancel_backend($1)", [pid]).catch(() => {});
}
