// What the development server did that a workflow author wants to see under `skyflow dev`: the pubsub
// messages its hubs carried (the last 200, kept in memory, redacted) and the pushes it recorded instead of
// sending (read from its outbox table).
import type pg from "pg";
import { ident } from "../db/pool.js";
import { redact } from "../errors.js";
import type { Hub } from "../server/pubsub/hub.js";
import { listPushes, type RecordedPush } from "../server/push/outbox.js";
import { cut } from "./runs-api.js";

export interface PubsubMessage {
  seq: number;
  at: string;
  hub: string;
  channel: string;
  data: unknown;
  /** Sockets it reached. */
  sent: number;
}

const KEEP = 200;

export class DevLog {
  private messages: PubsubMessage[] = [];
  private seq = 0;
  private readonly untaps: (() => void)[] = [];

  constructor(
    private readonly opts: {
      pool: pg.Pool;
      schema: string;
      hubs: Hub[];
      secrets: string[];
      now?: () => Date;
    },
  ) {
    for (const hub of opts.hubs) {
      this.untaps.push(hub.tap((channel, data, sent) => this.record(hub.name, channel, data, sent)));
    }
  }

  private record(hub: string, channel: string, data: unknown, sent: number): void {
    const at = (this.opts.now?.() ?? new Date()).toISOString();
    this.messages.push({
      seq: ++this.seq,
      at,
      hub,
      channel,
      data: cut(redact(data, this.opts.secrets)),
      sent,
    });
    if (this.messages.length > KEEP) this.messages.splice(0, this.messages.length - KEEP);
  }

  /** Newest first. */
  pubsub(): PubsubMessage[] {
    return [...this.messages].reverse();
  }

  async pushes(limit = 50): Promise<RecordedPush[]> {
    const list = await listPushes(this.opts.pool, this.opts.schema, limit);
    return list.map((p) => redact(p, this.opts.secrets) as RecordedPush);
  }

  /** Changes when a message is carried or a push recorded (for the live feed). */
  async stamp(): Promise<string> {
    const { rows } = await this.opts.pool.query<{ n: string | null }>(
      `SELECT max(id)::text AS n FROM ${ident(this.opts.schema)}._skyflow_push`,
    );
    return `${this.seq}:${rows[0]?.n ?? 0}`;
  }

  close(): void {
    for (const u of this.untaps.splice(0)) u();
  }
}
