// The client-side contract of the Skygear container: what steps and triggers call. Implemented by
// src/skygear/container.ts over two transports (HTTP through axios + undici, and in-process).

export interface CallOptions {
  signal?: AbortSignal;
  /** Per-call limit; the container's default otherwise. */
  timeoutMs?: number;
}

/** Carries one action to a server and returns its raw HTTP status and JSON body. */
export interface Transport {
  send(
    action: string,
    body: Record<string, unknown>,
    opts: CallOptions,
  ): Promise<{ status: number; body: unknown }>;
  close?(): Promise<void>;
}

/** A Skygear record as JSON (`_id` is `type/key`; typed values are `$type` objects). */
export type RecordJSON = { _id: string; [field: string]: unknown };

export interface QueryParams {
  recordType: string;
  databaseId?: string;
  predicate?: unknown[];
  sort?: unknown[];
  limit?: number;
  offset?: number;
  count?: boolean;
  include?: Record<string, unknown>;
}

export interface SkygearClient {
  /** Sends any action; resolves with `result`, rejects with a SkygearError. */
  sendAction(action: string, params?: Record<string, unknown>, opts?: CallOptions): Promise<unknown>;
  /** A copy that impersonates `userId` (master key + `_user_id`); a `user/` prefix is dropped. */
  asUser(userId: string): SkygearClient;
  /** A copy that calls with the master key and no user. */
  asMaster(): SkygearClient;
  query(params: QueryParams, opts?: CallOptions): Promise<{ records: RecordJSON[]; count?: number }>;
  /** Per-record errors reject with a SkygearError (the first one, with the others in `info`). */
  save(
    records: RecordJSON[],
    params?: { databaseId?: string; atomic?: boolean },
    opts?: CallOptions,
  ): Promise<RecordJSON[]>;
  delete(ids: string[], params?: { databaseId?: string }, opts?: CallOptions): Promise<string[]>;
  pushToUsers(
    userIds: string[],
    notification: unknown,
    topic?: string,
    opts?: CallOptions,
  ): Promise<unknown[]>;
  pushToDevices(
    deviceIds: string[],
    notification: unknown,
    topic?: string,
    opts?: CallOptions,
  ): Promise<unknown[]>;
}

export interface PubsubPublisher {
  publish(channel: string, data: unknown): Promise<void>;
}
