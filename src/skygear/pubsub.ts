// The pubsub client (protocol §8): one ws socket to a hub with the API key header, subscriptions that
// survive reconnects, capped exponential backoff with jitter, and a bounded queue of publishes made while
// disconnected (a full queue rejects; nothing is dropped silently). Emits "connected" / "disconnected".
import { EventEmitter } from "node:events";
import { backoffMs } from "../backoff.js";
import type { Logger } from "../log.js";
import { WebSocket } from "../ws.js";
import { SkygearError } from "./errors.js";
import type { PubsubPublisher } from "./types.js";

export interface PubsubClientOptions {
  /** The Skygear endpoint (http(s)://host:port/prefix/); the hub is <prefix>pubsub or <prefix>_/pubsub. */
  endpoint: string;
  apiKey: string;
  log?: Logger;
  hub?: "public" | "internal";
  /** Publishes held while disconnected (default 1000). */
  queueSize?: number;
  /** Reconnect delays (src/backoff.ts): initialMs doubling to maxMs, equal jitter to 50-100% (100 ms, 10 s). */
  backoff?: { initialMs?: number; maxMs?: number };
  /** Injected randomness for the jitter (default Math.random). */
  random?: () => number;
}

type Handler = (data: unknown) => void;
interface Pending {
  frame: string;
  resolve: () => void;
  reject: (err: unknown) => void;
}

function pubsubError(errorName: string, message: string, retryable: boolean): SkygearError {
  return new SkygearError({ errorName, skygearCode: 0, status: 0, message, retryable });
}

export class PubsubClient extends EventEmitter implements PubsubPublisher {
  private ws: WebSocket | undefined;
  private isOpen = false;
  private closed = false;
  private attempt = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly handlers = new Map<string, Set<Handler>>();
  private readonly queue: Pending[] = [];
  private readonly url: string;
  private readonly queueSize: number;
  private readonly initialMs: number;
  private readonly maxMs: number;
  private readonly random: () => number;
  /** The hub refused the API key at the last handshake (cleared when a socket opens). */
  private refused: SkygearError | undefined;
  /** The socket's writes are held until the end of the tick (see cork). */
  private corked = false;

  constructor(private readonly opts: PubsubClientOptions) {
    super();
    this.url = hubUrl(opts.endpoint, opts.hub ?? "public");
    this.queueSize = opts.queueSize ?? 1000;
    this.initialMs = opts.backoff?.initialMs ?? 100;
    this.maxMs = opts.backoff?.maxMs ?? 10_000;
    this.random = opts.random ?? Math.random;
  }

  /** Opens the socket; createPubsubClient calls it. */
  start(): this {
    this.connect();
    return this;
  }

  connected(): boolean {
    return this.isOpen;
  }

  isConnected(): boolean {
    return this.isOpen;
  }

  /** Resolves once the frame is written to the socket (at once when connected, else after reconnecting). */
  publish(channel: string, data: unknown): Promise<void> {
    if (this.closed) return Promise.reject(pubsubError("PubsubClosed", "the pubsub client is closed", false));
    if (!channel) return Promise.reject(pubsubError("InvalidArgument", "pubsub channel is empty", false));
    // A v1 hub answers a pub without data by closing the socket, which would cost every subscription.
    if (data === undefined || data === null) {
      return Promise.reject(pubsubError("InvalidArgument", `pubsub data for ${channel} is null`, false));
    }
    // While the hub refuses the key, a publish fails at once (not retryable) rather than waiting in the queue.
    if (this.refused) return Promise.reject(this.refused);
    const frame = JSON.stringify({ action: "pub", channel, data });
    return new Promise((resolve, reject) => {
      const pending = { frame, resolve, reject };
      if (this.isOpen) this.write(pending);
      else this.enqueue(pending);
    });
  }

  /** Calls `handler` with each message's data on `channel`; returns the unsubscribe function. */
  subscribe(channel: string, handler: Handler): () => void {
    let set = this.handlers.get(channel);
    if (!set) {
      set = new Set();
      this.handlers.set(channel, set);
      this.sendControl("sub", channel);
    }
    set.add(handler);
    return () => {
      if (!set.delete(handler) || set.size > 0 || this.handlers.get(channel) !== set) return;
      this.handlers.delete(channel);
      this.sendControl("unsub", channel);
    };
  }

  /** Stops reconnecting, rejects queued publishes, and closes the socket. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.timer);
    for (const p of this.queue.splice(0))
      p.reject(pubsubError("PubsubClosed", "the pubsub client closed", false));
    const ws = this.ws;
    if (!ws || ws.readyState === WebSocket.CLOSED) return;
    const done = new Promise<void>((resolve) => ws.once("close", () => resolve()));
    if (ws.readyState === WebSocket.CONNECTING) ws.terminate();
    else ws.close();
    const force = setTimeout(() => ws.terminate(), 1000);
    await done;
    clearTimeout(force);
  }

  private connect(): void {
    const ws = new WebSocket(this.url, {
      headers: { "X-Skygear-API-Key": this.opts.apiKey },
      handshakeTimeout: 10_000,
    });
    this.ws = ws;
    ws.on("open", () => this.onOpen());
    ws.on("message", (raw, isBinary) => this.onMessage(isBinary ? "" : raw.toString()));
    // ws reports handshake refusals ("Unexpected server response: 401") here; the URL carries no key.
    ws.on("error", (err) => {
      const status = /Unexpected server response: (40[13])\b/.exec(err.message)?.[1];
      if (status) this.onRefused(Number(status));
      else this.opts.log?.warn({ err: err.message, url: this.url }, "pubsub socket error");
    });
    ws.on("close", () => this.onClose(ws));
  }

  /**
   * The hub answered the handshake with 401 or 403: the API key is wrong. Said once per streak at error
   * level; publishes waiting for a connection fail now, as do new ones until a socket opens. Reconnecting
   * goes on with the usual backoff, so a key fixed on the server's side is picked up.
   */
  private onRefused(status: number): void {
    if (!this.refused) {
      const message =
        `the pubsub hub at ${this.url} refused the API key (HTTP ${status}): check SKYGEAR_API_KEY ` +
        "(the app's API key or master key)";
      this.refused = pubsubError("AccessKeyNotAccepted", message, false);
      this.opts.log?.error({ url: this.url, status }, message);
    }
    for (const p of this.queue.splice(0)) p.reject(this.refused);
  }

  private onOpen(): void {
    this.isOpen = true;
    this.refused = undefined;
    this.attempt = 0;
    for (const channel of this.handlers.keys()) this.sendControl("sub", channel);
    for (const p of this.queue.splice(0)) this.write(p);
    this.opts.log?.info({ url: this.url }, "pubsub connected");
    this.emit("connected");
  }

  private onMessage(text: string): void {
    let msg: { channel?: unknown; data?: unknown };
    try {
      msg = JSON.parse(text) as typeof msg;
    } catch {
      // v1 hubs send errors as plain-text frames (protocol §8).
      this.opts.log?.warn({ frame: text.slice(0, 200) }, "pubsub hub sent a non-JSON frame");
      return;
    }
    if (typeof msg?.channel !== "string") return;
    for (const handler of this.handlers.get(msg.channel) ?? []) {
      try {
        handler(msg.data);
      } catch (err) {
        this.opts.log?.error({ err: String(err), channel: msg.channel }, "pubsub handler threw");
      }
    }
  }

  private onClose(ws: WebSocket): void {
    if (this.ws !== ws) return;
    const wasOpen = this.isOpen;
    this.isOpen = false;
    this.ws = undefined;
    if (wasOpen) this.emit("disconnected");
    if (this.closed) return;
    const delay = this.nextDelay();
    this.opts.log?.warn({ url: this.url, attempt: this.attempt, delayMs: delay }, "pubsub reconnecting");
    this.timer = setTimeout(() => this.connect(), delay);
  }

  private nextDelay(): number {
    // Equal jitter (50-100%) so that reconnecting clients spread out.
    const backoff = { initialMs: this.initialMs, maxMs: this.maxMs, jitter: "equal" } as const;
    return backoffMs(backoff, ++this.attempt, this.random);
  }

  private write(p: Pending): void {
    this.cork(this.ws!);
    this.ws!.send(p.frame, (err) => {
      if (!err) return p.resolve();
      // The socket died under the write: hold it for the next connection like any other.
      if (this.closed) p.reject(pubsubError("PubsubClosed", "the pubsub client closed", false));
      else this.enqueue(p);
    });
  }

  /**
   * Holds the socket's writes until the current tick's work is done, so that the publishes made in it go out
   * in one write: a save batch that lands lets many runs publish at once, and a write each was about a tenth
   * of the daemon's CPU on a backlog of publish runs (bench/peers.ts). ws has no API for it; its socket (a
   * net.Socket it keeps as `_socket`) takes cork and uncork, which ws itself uses around each frame.
   */
  private cork(ws: WebSocket): void {
    if (this.corked) return;
    const socket = (ws as unknown as { _socket?: { cork(): void; uncork(): void } })._socket;
    if (!socket) return;
    this.corked = true;
    socket.cork();
    process.nextTick(() => {
      this.corked = false;
      socket.uncork();
    });
  }

  private enqueue(p: Pending): void {
    if (this.queue.length >= this.queueSize) {
      const msg = `pubsub is disconnected and its queue of ${this.queueSize} publishes is full`;
      p.reject(pubsubError("PubsubQueueFull", msg, true));
      return;
    }
    this.queue.push(p);
  }

  private sendControl(action: "sub" | "unsub", channel: string): void {
    if (this.isOpen) this.ws!.send(JSON.stringify({ action, channel }));
  }
}

export function hubUrl(endpoint: string, hub: "public" | "internal"): string {
  const url = new URL(endpoint);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  const base = url.pathname.endsWith("/") ? url.pathname : `${url.pathname}/`;
  url.pathname = base + (hub === "internal" ? "_/pubsub" : "pubsub");
  url.search = "";
  return url.toString();
}

/** A connecting client (it keeps reconnecting until close()). */
export function createPubsubClient(opts: PubsubClientOptions): PubsubClient {
  return new PubsubClient(opts).start();
}
