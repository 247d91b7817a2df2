// LISTEN on a channel over one dedicated pooled connection; reconnects when asked after a failure. Other
// processes NOTIFY skyflow_runs (at most once per transaction) when they queue runs.
import type pg from "pg";
import type { Logger } from "../log.js";

export class Listener {
  private client: pg.PoolClient | undefined;
  private connecting: Promise<void> | undefined;
  private closed = false;

  constructor(
    private readonly pool: pg.Pool,
    private readonly channel: string,
    private readonly onNotify: () => void,
    private readonly log: Logger,
  ) {}

  /** Connects when not connected; failures are logged and retried on the next call. */
  ensure(): Promise<void> {
    if (this.closed || this.client) return Promise.resolve();
    this.connecting ??= this.connect().finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  private async connect(): Promise<void> {
    let client: pg.PoolClient | undefined;
    try {
      client = await this.pool.connect();
      const c = client;
      c.on("notification", this.notified);
      c.on("error", this.failed);
      await c.query(`LISTEN ${this.channel}`);
      if (this.closed) {
        this.release(c);
        return;
      }
      this.client = c;
    } catch (err) {
      if (client) this.release(client, err as Error);
      this.log.warn({ err: String(err) }, "LISTEN failed; the poll still finds work");
    }
  }

  private readonly notified = (m: { channel: string }) => {
    if (m.channel === this.channel) this.onNotify();
  };

  private readonly failed = (err: Error) => {
    this.log.warn({ err: String(err) }, "LISTEN connection lost; reconnecting on the next poll");
    const c = this.client;
    this.client = undefined;
    if (c) this.release(c, err);
  };

  /** Back to the pool without our listeners (a pooled client must not call us after it is released). */
  private release(c: pg.PoolClient, err?: Error): void {
    c.off("notification", this.notified);
    c.off("error", this.failed);
    c.release(err);
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.connecting;
    const c = this.client;
    this.client = undefined;
    if (!c) return;
    // Closed rather than sent UNLISTEN and reused: across a partition the UNLISTEN waited for TCP to give up.
    this.release(c, new Error("listener closed"));
  }
}
