// One pubsub hub (protocol §8): channel -> subscribed sockets, and fan-out of `{channel, data}` to every
// subscriber, the publisher's own subscription included. A socket whose send buffer is stuck is skipped.

/** What a hub needs of a socket (a `ws` WebSocket satisfies it). */
export interface HubSocket {
  readonly readyState: number;
  readonly bufferedAmount: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  terminate?(): void;
}

const OPEN = 1;
/** v1 waits about 1 s for a slow writer, then drops the message; a full buffer is our equivalent. */
export const STUCK_BUFFER_BYTES = 4 * 1024 * 1024;

export type HubName = "public" | "internal";

export class Hub {
  readonly name: HubName;
  private readonly channels = new Map<string, Set<HubSocket>>();
  private readonly sockets = new Map<HubSocket, Set<string>>();
  /** Messages skipped because a subscriber's buffer was stuck (for tests and metrics). */
  dropped = 0;
  private readonly taps = new Set<(channel: string, data: unknown, sent: number) => void>();

  constructor(name: HubName) {
    this.name = name;
  }

  add(socket: HubSocket): void {
    if (!this.sockets.has(socket)) this.sockets.set(socket, new Set());
  }

  subscribe(socket: HubSocket, channel: string): void {
    this.add(socket);
    this.sockets.get(socket)!.add(channel);
    let subs = this.channels.get(channel);
    if (!subs) {
      subs = new Set();
      this.channels.set(channel, subs);
    }
    subs.add(socket);
  }

  unsubscribe(socket: HubSocket, channel: string): void {
    this.sockets.get(socket)?.delete(channel);
    const subs = this.channels.get(channel);
    if (!subs) return;
    subs.delete(socket);
    if (subs.size === 0) this.channels.delete(channel);
  }

  /** Called when a socket closes: drops all of its subscriptions. */
  remove(socket: HubSocket): void {
    for (const channel of this.sockets.get(socket) ?? []) this.unsubscribe(socket, channel);
    this.sockets.delete(socket);
  }

  /** Sees every message published, with how many got it (the dashboard's log under `dev`). */
  tap(fn: (channel: string, data: unknown, sent: number) => void): () => void {
    this.taps.add(fn);
    return () => this.taps.delete(fn);
  }

  /** Sends to every open subscriber; returns how many got it. */
  publish(channel: string, data: unknown): number {
    const sent = this.fanOut(channel, data);
    for (const fn of this.taps) fn(channel, data, sent);
    return sent;
  }

  private fanOut(channel: string, data: unknown): number {
    const subs = this.channels.get(channel);
    if (!subs || subs.size === 0) return 0;
    const frame = JSON.stringify({ channel, data });
    let sent = 0;
    for (const s of subs) {
      if (s.readyState !== OPEN) continue;
      if (s.bufferedAmount > STUCK_BUFFER_BYTES) {
        this.dropped++;
        continue;
      }
      s.send(frame);
      sent++;
    }
    return sent;
  }

  isSubscribed(socket: HubSocket, channel: string): boolean {
    return this.sockets.get(socket)?.has(channel) ?? false;
  }

  subscriptionCount(socket: HubSocket): number {
    return this.sockets.get(socket)?.size ?? 0;
  }

  subscriberCount(channel: string): number {
    return this.channels.get(channel)?.size ?? 0;
  }

  get connectionCount(): number {
    return this.sockets.size;
  }

  /** Closes every socket (server shutdown). */
  closeAll(): void {
    for (const s of [...this.sockets.keys()]) {
      if (s.terminate) s.terminate();
      else s.close(1001, "server shutting down");
      this.remove(s);
    }
  }
}
