// The official Skygear JS SDK (npm skygear 1.7.2) in Node, for tests: a container per user with an in-memory
// storage of its own (so users do not share tokens); the SDK opens its pubsub websockets by itself.
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
// biome-ignore lint/suspicious/noExplicitAny: the SDK ships no types
export type Any = any;
export const Container: new () => Any = require("skygear-core/dist/container").default;
const { Store }: { Store: new (driver: unknown) => unknown } = require("skygear-core/dist/store");

/** The async storage driver interface the SDK's Store calls, over a Map. */
class MemoryDriver {
  private readonly m = new Map<string, string>();
  private done<T>(cb: ((e: null, v?: T) => void) | undefined, v?: T): T | undefined {
    cb?.(null, v);
    return v;
  }
  async clear(cb?: (e: null) => void) {
    this.m.clear();
    return this.done(cb);
  }
  async getItem(k: string, cb?: (e: null, v?: string | null) => void) {
    return this.done(cb, this.m.get(k) ?? null);
  }
  async setItem(k: string, v: string, cb?: (e: null) => void) {
    this.m.set(k, v);
    return this.done(cb);
  }
  async removeItem(k: string, cb?: (e: null) => void) {
    this.m.delete(k);
    return this.done(cb);
  }
  async multiGet(keys: string[], cb?: (e: null, v?: unknown) => void) {
    return this.done(
      cb,
      keys.map((key) => ({ key, value: this.m.get(key) ?? null })),
    );
  }
  async multiSet(pairs: { key: string; value: string }[], cb?: (e: null) => void) {
    for (const p of pairs) this.m.set(p.key, p.value);
    return this.done(cb);
  }
  async multiRemove(keys: string[], cb?: (e: null) => void) {
    for (const k of keys) this.m.delete(k);
    return this.done(cb);
  }
  async key(n: number, cb?: (e: null, v?: string | null) => void) {
    return this.done(cb, [...this.m.keys()][n] ?? null);
  }
  async keys(cb?: (e: null, v?: string[]) => void) {
    return this.done(cb, [...this.m.keys()]);
  }
  async length(cb?: (e: null, v?: number) => void) {
    return this.done(cb, this.m.size);
  }
}

/** A configured container on `endPoint`; `close` it (its pubsub sockets reconnect otherwise). */
export async function sdkContainer(endPoint: string, apiKey: string): Promise<Any> {
  const c = new Container();
  c._store = new Store(new MemoryDriver());
  await c.config({ endPoint, apiKey });
  return c;
}

/** Stops a container's pubsub reconnects. */
export function closeContainer(c: Any): void {
  c.pubsub._pubsub.reset();
  c.pubsub._internalPubsub.reset();
}

/** The SDK rejects with `{status, error}`; this returns that error (fails when the call succeeds). */
export async function sdkError(
  p: Promise<unknown>,
): Promise<{ code?: number; name?: string; status?: number }> {
  try {
    await p;
  } catch (e) {
    const err = e as Any;
    return { ...(err?.error ?? err), status: err?.status };
  }
  throw new Error("expected the SDK call to fail");
}

/** A record as the official SDK returns it: `id` is `type/key`, as `_id` on the wire and in `event.record._id`. */
export interface SdkRecord {
  id: string;
  _id: string;
  [field: string]: unknown;
}
/** The calls of the SDK's default (global) container that the end-to-end tests make; the SDK ships no types. */
export interface Sdk {
  config(o: { endPoint: string; apiKey: string }): Promise<unknown>;
  auth: { signupAnonymously(): Promise<SdkRecord> };
  Record: { extend(type: string): new (attrs: Record<string, unknown>) => SdkRecord };
  Reference: new (id: string) => unknown;
  Query: new (cls: unknown) => { equalTo(k: string, v: unknown): void };
  publicDB: {
    save(r: SdkRecord): Promise<SdkRecord>;
    query(q: unknown): Promise<SdkRecord[]>;
  };
}
/** The SDK's global container, as `import skygear from "skygear"` gives it to an app. */
export const skygear = require("skygear") as Sdk;

/** Saves a record of `type` to the public database through the SDK's global container. */
export const saveRecord = (type: string, attrs: Record<string, unknown>) =>
  skygear.publicDB.save(new (skygear.Record.extend(type))(attrs));
