// The dashboard's live feed: server-sent events telling open pages what changed (runs, workflows and their
// problems, the dev server's pushes and pubsub), so they fetch it again. This daemon's engine reports its runs
// at once; runs other daemons execute on the same database are found by a poll of the newest and in-flight
// runs (two index scans), made only while a page is open.
import type { ServerResponse } from "node:http";
import type { LiveCatalog } from "../engine/catalog.js";
import type { Queryable } from "../engine/store/enqueue.js";
import { formatProblem } from "../errors.js";
import type { Logger } from "../log.js";
import type { Observable } from "../observe.js";

export interface LiveOptions {
  db: Queryable;
  catalog: LiveCatalog;
  log: Logger;
  /** This daemon's engine: its run and step events are passed on without waiting for the poll. */
  engine?: Observable & { off(event: "run" | "step", listener: (e: { runId: string }) => void): unknown };
  /** A value that changes when the development server records a push or carries a pubsub message. */
  devStamp?: () => Promise<string>;
  /** Poll interval while a page is open (default 250 ms). */
  intervalMs?: number;
}

export interface RunChange {
  id: string;
  workflow: string;
  status: string;
}

/** How many of the newest runs the poll compares (beyond every run in flight). */
const RECENT = 100;
const KEEPALIVE_MS = 15_000;

export class LiveFeed {
  private readonly clients = new Set<ServerResponse>();
  private timer: NodeJS.Timeout | undefined;
  private keepalive: NodeJS.Timeout | undefined;
  private polling = false;
  /** id -> "status|updated_at" as of the last poll; undefined until the first poll of this open period. */
  private seen: Map<string, string> | undefined;
  private workflowsStamp = "";
  private devStamp = "";
  private pending = new Map<string, RunChange>();
  private flushQueued = false;
  private readonly onEngine = (e: { runId: string; workflow?: string; type?: string }) => {
    this.queue({ id: e.runId, workflow: e.workflow ?? "", status: e.type ?? "" });
  };

  constructor(private readonly o: LiveOptions) {
    o.engine?.on("run", this.onEngine as never);
    o.engine?.on("step", this.onEngine as never);
  }

  /** Turns a response into an event stream until the client goes away. */
  attach(res: ServerResponse): void {
    res.writeHead(200, {
      "content-type": "text/event-stream",
      "cache-control": "no-store",
      connection: "keep-alive",
      "x-accel-buffering": "no",
    });
    res.write("retry: 1000\n\n");
    this.clients.add(res);
    res.on("close", () => {
      this.clients.delete(res);
      if (this.clients.size === 0) this.idle();
    });
    if (!this.timer) this.start();
  }

  get clientCount(): number {
    return this.clients.size;
  }

  close(): void {
    this.o.engine?.off("run", this.onEngine);
    this.o.engine?.off("step", this.onEngine);
    for (const c of this.clients) c.end();
    this.clients.clear();
    this.idle();
  }

  private start(): void {
    this.seen = undefined;
    this.workflowsStamp = workflowsStamp(this.o.catalog);
    const every = this.o.intervalMs ?? 250;
    this.timer = setInterval(() => void this.poll(), every);
    this.keepalive = setInterval(() => this.send(": keepalive\n\n"), KEEPALIVE_MS);
    void this.poll();
  }

  private idle(): void {
    clearInterval(this.timer);
    clearInterval(this.keepalive);
    this.timer = undefined;
    this.keepalive = undefined;
  }

  private async poll(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      const stamp = workflowsStamp(this.o.catalog);
      if (stamp !== this.workflowsStamp) {
        this.workflowsStamp = stamp;
        this.send("event: workflows\ndata: {}\n\n");
      }
      await this.pollRuns();
      if (this.o.devStamp) {
        const dev = await this.o.devStamp();
        if (dev !== this.devStamp) {
          const first = this.devStamp === "";
          this.devStamp = dev;
          if (!first) this.send("event: dev\ndata: {}\n\n");
        }
      }
    } catch (err) {
      this.o.log.warn({ err: String(err) }, "dashboard live feed: poll failed; trying again");
    } finally {
      this.polling = false;
    }
  }

  private async pollRuns(): Promise<void> {
    const { rows } = await this.o.db.query<RunChange & { stamp: string } & Record<string, unknown>>(
      `(SELECT id, workflow, status, status || '|' || updated_at AS stamp FROM skyflow.runs
        ORDER BY created_at DESC LIMIT ${RECENT})
       UNION
       (SELECT id, workflow, status, status || '|' || updated_at FROM skyflow.runs
        WHERE status IN ('pending', 'running', 'waiting') LIMIT 1000)`,
    );
    const next = new Map(rows.map((r) => [r.id, r.stamp]));
    const before = this.seen;
    this.seen = next;
    if (!before) return;
    for (const r of rows) {
      if (before.get(r.id) !== r.stamp) this.queue({ id: r.id, workflow: r.workflow, status: r.status });
    }
    // A run that left both sets finished (or aged out of the newest): its page may be open.
    for (const id of before.keys()) if (!next.has(id)) this.queue({ id, workflow: "", status: "" });
  }

  /** Changes are sent together, at most once per turn of the event loop. */
  private queue(change: RunChange): void {
    if (this.clients.size === 0) return;
    const known = this.pending.get(change.id);
    this.pending.set(change.id, { ...change, workflow: change.workflow || known?.workflow || "" });
    if (this.flushQueued) return;
    this.flushQueued = true;
    setImmediate(() => {
      this.flushQueued = false;
      const runs = [...this.pending.values()];
      this.pending.clear();
      if (runs.length) this.send(`event: runs\ndata: ${JSON.stringify({ runs })}\n\n`);
    });
  }

  private send(frame: string): void {
    for (const c of this.clients) c.write(frame);
  }
}

/** Changes when a workflow is added, changed, paused or removed, or a file's problems change. */
function workflowsStamp(catalog: LiveCatalog): string {
  const wfs = catalog.list().map((d) => `${d.name}@${d.version}:${catalog.status(d.name)}`);
  const problems = [...catalog.problems()].flatMap(([, ps]) => ps.map(formatProblem));
  return JSON.stringify([wfs, problems]);
}
