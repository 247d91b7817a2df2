// The HTTP transport: axios (the design card's choice) with an adapter on an undici Pool, so a call costs
// about what a raw Pool request costs. axios never builds an AxiosError here: the adapter resolves every
// status and throws only SkygearErrors, so no config (whose body holds the key) is ever kept on an error.
import { Axios, type AxiosAdapter, type InternalAxiosRequestConfig } from "axios";
import { type Dispatcher, Pool } from "undici";
import { Deadline } from "./deadline.js";
import { networkError } from "./errors.js";
import type { CallOptions, Transport } from "./types.js";

export interface HttpTransportOptions {
  /** Base URL of the Skygear server, e.g. http://127.0.0.1:3000/ (a path prefix is kept). */
  endpoint: string;
  /** Sockets kept open to the server (default 32). */
  connections?: number;
}

export interface HttpTransport extends Transport {
  close(): Promise<void>;
}

const HEADERS = { "content-type": "application/json", "x-skygear-sdk-version": "skyflow/0.1" };

/** The adapter reads the call's deadline from the config (axios copies class instances by reference). */
type SkyflowConfig = InternalAxiosRequestConfig & { skyflowCall?: Deadline };

export function createHttpTransport(opts: HttpTransportOptions): HttpTransport {
  const url = new URL(opts.endpoint);
  const basePath = url.pathname.endsWith("/") ? url.pathname : `${url.pathname}/`;
  const pool = new Pool(url.origin, { connections: opts.connections ?? 32 });
  const client = createAxios(pool);
  return {
    async send(action: string, body: Record<string, unknown>, callOpts: CallOptions) {
      const deadline = new Deadline(action, callOpts);
      try {
        const res = await client.request({
          url: basePath + action.replaceAll(":", "/"),
          data: JSON.stringify(body),
          skyflowCall: deadline,
        } as SkyflowConfig);
        return { status: res.status, body: res.data };
      } finally {
        deadline.done();
      }
    },
    close: () => closePool(pool),
  };
}

/** Lets calls in flight finish for a moment, then cuts them: shutdown must not wait out a 30 s timeout. */
async function closePool(pool: Pool, graceMs = 2000): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const grace = new Promise<"late">((resolve) => {
    timer = setTimeout(() => resolve("late"), graceMs);
  });
  const outcome = await Promise.race([pool.close(), grace]);
  clearTimeout(timer);
  if (outcome === "late") await pool.destroy();
}

/**
 * A bare Axios instance: axios.create() would copy every library default (header tables for each method,
 * xsrf, env, transitional) into each request's config merge, which measured as two thirds of the pipeline.
 */
function createAxios(pool: Pool): Axios {
  return new Axios({
    method: "post",
    adapter: undiciAdapter(pool),
    // No transforms: the body is serialised and the answer parsed by us (axios would only re-check both).
    validateStatus: null,
  });
}

function undiciAdapter(pool: Pool): AxiosAdapter {
  return (config) => {
    const call = (config as SkyflowConfig).skyflowCall;
    if (!call) return Promise.reject(new Error("the Skygear HTTP adapter needs a call state"));
    return new Promise((resolve, reject) => {
      const handler = new CallHandler(
        call,
        (status, text) => {
          resolve({ data: parseBody(text), status, statusText: "", headers: {}, config });
        },
        reject,
      );
      pool.dispatch(
        { path: config.url ?? "/", method: "POST", headers: HEADERS, body: config.data },
        handler,
      );
    });
  };
}

/**
 * undici's low-level handler: collects the answer's bytes with no Readable stream in between (that stream
 * is most of a Pool.request's client CPU), and aborts the request when the deadline fires.
 */
class CallHandler implements Dispatcher.DispatchHandler {
  private status = 0;
  private readonly chunks: Buffer[] = [];
  private settled = false;
  private abort: ((err?: Error) => void) | undefined;
  private fired: Error | undefined;

  constructor(
    private readonly deadline: Deadline,
    private readonly resolve: (status: number, text: string) => void,
    private readonly reject: (err: unknown) => void,
  ) {
    // Registered now, not in onConnect: a request still queued for a socket must time out too.
    deadline.onFire((err) => {
      this.fired = err;
      this.fail(err);
      this.abort?.(err);
    });
  }

  onConnect(abort: (err?: Error) => void): void {
    if (this.fired) abort(this.fired);
    else this.abort = abort;
  }

  onHeaders(statusCode: number): boolean {
    this.status = statusCode;
    return true;
  }

  onData(chunk: Buffer): boolean {
    this.chunks.push(chunk);
    return true;
  }

  onComplete(): void {
    if (this.settled) return;
    this.settled = true;
    const text =
      this.chunks.length === 1 ? this.chunks[0]!.toString() : Buffer.concat(this.chunks).toString();
    this.resolve(this.status, text);
  }

  onError(err: Error): void {
    this.fail(this.deadline.failure() ?? networkError(this.deadline.action, err));
  }

  private fail(err: unknown): void {
    if (this.settled) return;
    this.settled = true;
    this.reject(err);
  }
}

/** The JSON answer, or undefined for an empty or non-JSON body (a v1 server's bare 400, a proxy page). */
function parseBody(text: string): unknown {
  if (text.length === 0) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
