// The saves of a foreach's or parallel's inner steps (tree.ts): at most one save of the run in flight, each
// carrying the state as it is sent and the try rows of every change made meanwhile.
import type { RunIO, TryResult } from "./machine.js";
import type { RunState } from "./state.js";
import type { BeginTry } from "./store/save.js";

export interface Change {
  result?: TryResult;
  begin?: BeginTry;
  committed?: boolean;
}

/**
 * The inner steps' saves of one run: at most one in flight (two saves of a run in one flush would update
 * its row twice), each carrying the state as it is when it is sent and every try row changed meanwhile.
 * A try that begins and ends between two sends is written once, with its result.
 */
export class Saver {
  private pending: { change: Change; done: (err?: unknown) => void }[] = [];
  private flying: Promise<void> | undefined;
  private failed: unknown;
  constructor(
    private readonly io: RunIO,
    private readonly state: () => RunState,
    private readonly onFail: (err: unknown) => void,
  ) {}

  save(change: Change): Promise<void> {
    if (this.failed !== undefined) return Promise.reject(this.failed);
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ change, done: (err) => (err === undefined ? resolve() : reject(err)) });
      if (!this.flying) this.flying = this.pump();
    });
  }

  async idle(): Promise<void> {
    while (this.flying) await this.flying;
    if (this.failed !== undefined) throw this.failed;
  }

  dispose(): void {
    for (const p of this.pending.splice(0)) p.done(new Error("run stopped"));
  }

  private async pump(): Promise<void> {
    // One turn of the event loop first, so that changes made by the same wave of settled promises go
    // together.
    await new Promise<void>((r) => setImmediate(r));
    while (this.pending.length > 0) {
      const batch = this.pending.splice(0);
      try {
        await this.io.saveTree(this.state(), rowsOf(batch.map((b) => b.change)));
        for (const b of batch) b.done();
      } catch (err) {
        this.failed = err;
        this.onFail(err);
        for (const b of [...batch, ...this.pending.splice(0)]) b.done(err);
      }
    }
    this.flying = undefined;
  }
}

/** The try rows of one save of inner steps (see RunIO.saveTree). */
export interface TreeRows {
  results: TryResult[];
  /** `ended`: the try also ended in this save; its row is the result's, with this input. */
  begins: (BeginTry & { ended?: boolean })[];
  /** Results whose rows their step's transaction wrote already (see commitTry): key + NUL + attempt. */
  committed: Set<string>;
}

/** The try rows of several changes: a try's begin and end in the same save make one row. */
function rowsOf(changes: Change[]): TreeRows {
  const begins = new Map<string, BeginTry>();
  const results: TryResult[] = [];
  const committed = new Set<string>();
  const id = (k: string, a: number) => `${k}\u0000${a}`;
  for (const c of changes) {
    if (c.begin) begins.set(id(c.begin.stepKey, c.begin.attempt), c.begin);
    if (c.result) {
      results.push(c.result);
      if (c.committed) committed.add(id(c.result.stepKey, c.result.attempt));
    }
  }
  const ended = new Set(results.map((r) => id(r.stepKey, r.attempt)));
  // A begin whose try also ended here keeps only its input, on the result's row (runner.ts saveTree).
  return {
    results,
    begins: [...begins.values()].map((b) =>
      ended.has(id(b.stepKey, b.attempt)) ? { ...b, ended: true } : b,
    ),
    committed,
  };
}
