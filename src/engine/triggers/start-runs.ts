// Shared by every trigger kind, and by engine.trigger: store the workflow versions the new runs need, then
// enqueue the runs, on the caller's transaction client so the trigger's claim (outbox rows, cron fire)
// commits with its runs.
import { redact } from "../../errors.js";
import { claimLimits } from "../concurrency.js";
import type { TriggerEvent, WorkflowDefinition } from "../definition/types.js";
import type { ReleaseLease } from "../park/match.js";
import type { ClaimedRun, RunHandoff } from "../store/claim.js";
import {
  type Committer,
  type CreatedRun,
  enqueueRuns,
  type NewRunLease,
  type Queryable,
} from "../store/enqueue.js";

/** Up to this many runs started early send their first statements before their creation's insert. */
const FIRST_BEFORE_INSERT = 4;

export interface RunRequest {
  workflow: WorkflowDefinition;
  event: TriggerEvent;
  depth?: number;
  concurrencyKey?: string | null;
  /** Created leased to `lease.owner` (see enqueueRuns). */
  leased?: boolean;
}

/** Workflow definitions (never changed once loaded) and whether the claim honours a limit of theirs. */
const limits = new WeakMap<WorkflowDefinition, boolean>();

/** Whether `wf` has a run limit (claimLimits): its runs are not created leased. Worked out once per definition. */
function hasLimit(wf: WorkflowDefinition): boolean {
  let has = limits.get(wf);
  if (has === undefined) {
    has = claimLimits([wf]).length > 0;
    limits.set(wf, has);
  }
  return has;
}

/**
 * Marks as many requests as `handoff`'s engine has room for to be created leased to it (workflows without a
 * concurrency limit only) and returns how many it reserved: the caller hands the runs over, or releases the
 * reservation, with `handoff.adopt` once its transaction ends.
 */
function leaseRequests(requests: RunRequest[], handoff: RunHandoff | undefined): number {
  if (!handoff) return 0;
  const limited = new Set<string>();
  for (const r of requests) if (hasLimit(r.workflow)) limited.add(r.workflow.name);
  const eligible = limited.size === 0 ? requests : requests.filter((r) => !limited.has(r.workflow.name));
  const k = eligible.length > 0 ? handoff.reserve(eligible.length) : 0;
  for (const r of eligible.slice(0, k)) r.leased = true;
  return k;
}

/**
 * Starting runs in a trigger's transaction, handing to `handoff`'s engine those it has room for. `stored`
 * (see startRuns) is the caller's set of versions already committed.
 */
export interface Handover {
  /**
   * In the transaction: startRuns, with the requests the engine has room for created leased to it. With
   * `commit`, the runs' insert is the transaction's last statement and commits it (see enqueueRuns).
   */
  start(tx: Queryable, requests: RunRequest[], commit?: Committer): Promise<CreatedRun[]>;
  /**
   * For the waits' release in the transaction (src/engine/park/match.ts): the engine's lease, which takes as
   * many released runs as the engine has room for in the release's own statement; they go to it with the new
   * runs once the transaction commits. None without an engine in this process.
   */
  releaseLease(): ReleaseLease | undefined;
  /**
   * Once `transaction` (the one `start` ran in) ends. Committed: the leased runs go to the engine, and the
   * engine is woken to claim any others. Failed: the engine's reservation is released, and `stored` is
   * cleared, since the versions insert rolled back too.
   */
  after<T>(transaction: Promise<T>): Promise<T>;
}

/** `secrets`: the keys, replaced in the events as they are stored and handed over (see startRuns). */
export function handover(
  handoff: RunHandoff | undefined,
  wake: () => void,
  stored?: Set<string>,
  secrets: readonly string[] = [],
): Handover {
  let reserved = 0;
  let created = 0;
  /** Released parked runs among `handed` (see releaseLease). */
  let resumed = 0;
  let leasedAt: number | undefined;
  const handed: ClaimedRun[] = [];
  /** Runs the engine started before their COMMIT was answered (RunHandoff.launch): not adopted again. */
  const early = new Set<ClaimedRun>();
  /** Of those, how many were created. */
  let launched = 0;
  const lease: NewRunLease | undefined = handoff && {
    owner: handoff.owner,
    leaseMs: handoff.leaseMs,
    ...(handoff.launch && {
      sent: (runs: ClaimedRun[]) => {
        const started = handoff.launch!(runs, leasedAt ?? performance.now());
        for (const r of started) early.add(r);
        // A few runs started early send their first statements within this turn (microtasks only, up to
        // the statement): the insert goes after them, so that its write is not on their way. Their COMMITs
        // wait for this one's answer either way, which comes about as soon as theirs. Not after many (a
        // backlog's claim): the insert would wait for all of their JavaScript.
        if (started.length === 0 || started.length > FIRST_BEFORE_INSERT) return undefined;
        return new Promise<void>((resolve) => setImmediate(resolve));
      },
    }),
  };
  const settle = (committed: boolean) => {
    if (reserved > 0) handoff?.adopt(committed ? handed : [], reserved, leasedAt);
    if (committed && created > handed.length - resumed + launched) wake();
  };
  return {
    async start(tx, requests, commit) {
      leasedAt ??= performance.now();
      reserved += leaseRequests(requests, handoff);
      const runs = await startRuns(tx, requests, stored, reserved > 0 ? lease : undefined, commit, secrets);
      created += runs.length;
      for (const r of runs) {
        if (!r.leased) continue;
        if (early.has(r.leased)) launched++;
        else handed.push(r.leased);
      }
      return runs;
    },
    releaseLease() {
      if (!handoff) return undefined;
      return {
        owner: handoff.owner,
        leaseMs: handoff.leaseMs,
        reserve(n) {
          const k = n > 0 ? handoff.reserve(n) : 0;
          if (k > 0) {
            leasedAt ??= performance.now();
            reserved += k;
          }
          return k;
        },
        leased(rows) {
          handed.push(...rows);
          resumed += rows.length;
        },
      };
    },
    async after(transaction) {
      let out: Awaited<typeof transaction>;
      try {
        out = await transaction;
      } catch (err) {
        stored?.clear();
        settle(false);
        throw err;
      }
      settle(true);
      return out;
    },
  };
}

/**
 * Returns the runs actually created; an (workflow, event.id) already seen creates nothing. `stored` lists
 * versions already committed by this process, to skip a round trip (clear it after a rolled-back call).
 */
async function startRuns(
  db: Queryable,
  requests: RunRequest[],
  stored?: Set<string>,
  lease?: NewRunLease,
  commit?: Committer,
  secrets: readonly string[] = [],
): Promise<CreatedRun[]> {
  if (requests.length === 0) return [];
  const versions = new Map<string, WorkflowDefinition>();
  for (const r of requests) {
    const key = versionKey(r.workflow);
    if (!stored?.has(key)) versions.set(key, r.workflow);
  }
  const wfs = [...versions.values()];
  if (wfs.length > 0) await storeVersions(db, wfs);
  for (const key of versions.keys()) stored?.add(key);
  return enqueueRuns(
    db,
    requests.map((r) => ({
      workflow: r.workflow.name,
      version: r.workflow.version,
      // The run's event as stored, and as its steps see it (here and after a resume): credential fields and
      // the keys redacted, by the rule of everything stored (errors.ts redact).
      event: redact(r.event, secrets) as TriggerEvent,
      depth: r.depth ?? 0,
      concurrencyKey: r.concurrencyKey,
      leased: r.leased,
    })),
    lease,
    commit,
  );
}

/** A workflow version's entry in a set of stored versions (see startRuns). */
const versionKey = (wf: Pick<WorkflowDefinition, "name" | "version">): string =>
  `${wf.name}\u0000${wf.version}`;

/**
 * Adds to `stored` (see startRuns) those versions of `wfs` that skyflow.workflow_versions holds already
 * (a read: rows there are never deleted), so that a restarted daemon's first runs of unchanged workflows do
 * not insert them again, a statement more in their trigger's transaction.
 */
export async function knownVersions(
  db: Queryable,
  wfs: WorkflowDefinition[],
  stored: Set<string>,
): Promise<void> {
  if (wfs.length === 0) return;
  const { rows } = await db.query<{ workflow: string; version: string }>(
    `SELECT workflow, version FROM skyflow.workflow_versions
     WHERE (workflow, version) IN (SELECT * FROM unnest($1::text[], $2::text[]))`,
    [wfs.map((w) => w.name), wfs.map((w) => w.version)],
  );
  const wanted = new Map(wfs.map((w) => [versionKey(w), w]));
  for (const r of rows) {
    const key = versionKey({ name: r.workflow, version: r.version });
    if (wanted.has(key)) stored.add(key);
  }
}

async function storeVersions(db: Queryable, wfs: WorkflowDefinition[]): Promise<void> {
  await db.query(
    `INSERT INTO skyflow.workflow_versions (workflow, version, source, file)
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[])
     ON CONFLICT DO NOTHING`,
    [wfs.map((w) => w.name), wfs.map((w) => w.version), wfs.map((w) => w.source), wfs.map((w) => w.file)],
  );
}
