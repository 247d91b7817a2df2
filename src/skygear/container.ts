// SkygearContainer: the client the steps use. It puts credentials into the body as py-skygear does
// (protocol §10.8), sends over any Transport, and turns envelopes and per-item errors into SkygearErrors.
import { SkyflowError } from "../errors.js";
import { errorFromItem, errorFromResponse, SkygearError } from "./errors.js";
import type { CallOptions, QueryParams, RecordJSON, SkygearClient, Transport } from "./types.js";

export interface ContainerOptions {
  transport: Transport;
  /** The key every call is made with unless it acts as a user or as master: the client API key. */
  apiKey: string;
  /** The master key, for asUser (impersonation) and asMaster; without it those use `apiKey`. */
  masterKey?: string;
  accessToken?: string;
  userId?: string;
  /** Per-call limit unless a call gives its own (default 30000). */
  timeoutMs?: number;
}

/** `result` and `info` of a successful answer. */
export interface ActionAnswer {
  result: unknown;
  info?: unknown;
}

type ErrorItem = Record<string, unknown> & { _type: "error" };

export class SkygearContainer implements SkygearClient {
  readonly transport: Transport;
  readonly userId: string | undefined;
  private readonly apiKey: string;
  private readonly masterKey: string;
  private readonly accessToken: string | undefined;
  private readonly timeoutMs: number;
  private readonly secrets: string[];

  constructor(opts: ContainerOptions) {
    this.transport = opts.transport;
    this.apiKey = opts.apiKey;
    this.masterKey = opts.masterKey ?? opts.apiKey;
    this.accessToken = opts.accessToken;
    this.userId = opts.userId;
    this.timeoutMs = opts.timeoutMs ?? 30_000;
    this.secrets = [opts.apiKey, this.masterKey, ...(opts.accessToken ? [opts.accessToken] : [])];
  }

  /**
   * A copy acting as `userId`: the master key with `_user_id` (impersonation). The access token is dropped
   * since it would win.
   */
  asUser(userId: string): SkygearContainer {
    const id = userId.startsWith("user/") ? userId.slice(5) : userId;
    return new SkygearContainer({
      transport: this.transport,
      apiKey: this.masterKey,
      userId: id,
      timeoutMs: this.timeoutMs,
    });
  }

  /** A copy that calls with the master key and no user: every record, whoever owns it. */
  asMaster(): SkygearContainer {
    return new SkygearContainer({
      transport: this.transport,
      apiKey: this.masterKey,
      timeoutMs: this.timeoutMs,
    });
  }

  /** A copy that sends `accessToken` (e.g. after auth:login), with no impersonation. */
  withAccessToken(accessToken: string): SkygearContainer {
    return new SkygearContainer({
      transport: this.transport,
      apiKey: this.apiKey,
      masterKey: this.masterKey,
      accessToken,
      timeoutMs: this.timeoutMs,
    });
  }

  async sendAction(action: string, params?: Record<string, unknown>, opts?: CallOptions): Promise<unknown> {
    return (await this.call(action, params, opts)).result;
  }

  /** Like sendAction, with the answer's `info` too (record:query's count). */
  async call(action: string, params?: Record<string, unknown>, opts?: CallOptions): Promise<ActionAnswer> {
    const body: Record<string, unknown> = { ...params, action, api_key: this.apiKey };
    if (this.accessToken !== undefined) body.access_token = this.accessToken;
    if (this.userId !== undefined) body._user_id = this.userId;
    const res = await this.transport.send(action, body, {
      signal: opts?.signal,
      timeoutMs: opts?.timeoutMs ?? this.timeoutMs,
    });
    const envelope = res.body as { result?: unknown; info?: unknown; error?: unknown } | undefined;
    if (res.status < 200 || res.status >= 300 || !envelope || envelope.error !== undefined) {
      throw errorFromResponse(action, res.status, res.body, this.secrets);
    }
    if (!("result" in envelope)) {
      throw new SkygearError({
        errorName: "HttpError",
        skygearCode: 0,
        status: res.status,
        message: `${action} failed: HTTP ${res.status} answer without result`,
      });
    }
    return { result: envelope.result, info: envelope.info };
  }

  async query(params: QueryParams, opts?: CallOptions): Promise<{ records: RecordJSON[]; count?: number }> {
    const body: Record<string, unknown> = {
      record_type: params.recordType,
      database_id: params.databaseId ?? "_public",
    };
    if (params.predicate !== undefined) body.predicate = params.predicate;
    if (params.sort !== undefined) body.sort = params.sort;
    if (params.limit !== undefined) body.limit = params.limit;
    if (params.offset !== undefined) body.offset = params.offset;
    if (params.count !== undefined) body.count = params.count;
    if (params.include !== undefined) body.include = params.include;
    const { result, info } = await this.call("record:query", body, opts);
    const records = expectArray("record:query", result) as RecordJSON[];
    const count = (info as { count?: unknown } | undefined)?.count;
    return typeof count === "number" ? { records, count } : { records };
  }

  async save(
    records: RecordJSON[],
    params?: { databaseId?: string; atomic?: boolean },
    opts?: CallOptions,
  ): Promise<RecordJSON[]> {
    const body: Record<string, unknown> = { database_id: params?.databaseId ?? "_public", records };
    if (params?.atomic) body.atomic = true;
    const items = await this.items("record:save", body, opts);
    return items as RecordJSON[];
  }

  async delete(ids: string[], params?: { databaseId?: string }, opts?: CallOptions): Promise<string[]> {
    const body = { database_id: params?.databaseId ?? "_public", ids };
    const items = await this.items("record:delete", body, opts);
    return items.map((item) => String(item._id));
  }

  pushToUsers(
    userIds: string[],
    notification: unknown,
    topic?: string,
    opts?: CallOptions,
  ): Promise<unknown[]> {
    const body: Record<string, unknown> = { user_ids: userIds, notification };
    if (topic !== undefined) body.topic = topic;
    return this.items("push:user", body, opts);
  }

  pushToDevices(
    deviceIds: string[],
    notification: unknown,
    topic?: string,
    opts?: CallOptions,
  ): Promise<unknown[]> {
    const body: Record<string, unknown> = { device_ids: deviceIds, notification };
    if (topic !== undefined) body.topic = topic;
    return this.items("push:device", body, opts);
  }

  close(): Promise<void> {
    return this.transport.close?.() ?? Promise.resolve();
  }

  /**
   * An action whose result is one item per input. Any error item rejects: the first becomes the error, and
   * its info lists every error item and the ids that did succeed (non-atomic saves commit the others).
   */
  private async items(
    action: string,
    body: Record<string, unknown>,
    opts?: CallOptions,
  ): Promise<Record<string, unknown>[]> {
    const items = expectArray(action, (await this.call(action, body, opts)).result);
    const errors = items.filter((i): i is ErrorItem => i?._type === "error");
    const first = errors[0];
    if (first) {
      const succeeded = items.filter((i) => i?._type !== "error").map((i) => i?._id);
      throw errorFromItem(action, first, { errors, succeeded }, this.secrets);
    }
    return items as Record<string, unknown>[];
  }
}

function expectArray(action: string, result: unknown): (Record<string, unknown> | undefined)[] {
  if (Array.isArray(result)) return result;
  throw new SkygearError({
    errorName: "HttpError",
    skygearCode: 0,
    status: 200,
    message: `${action} failed: the result is not an array`,
  });
}

export interface CreateContainerOptions {
  endpoint: string;
  /** The client API key: calls made as no user (a step without `as:`). Default: the master key. */
  apiKey?: string;
  /** The master key: asUser (impersonation) and asMaster. */
  masterKey?: string;
  accessToken?: string;
  userId?: string;
  timeoutMs?: number;
  connections?: number;
}

/** A container over HTTP; its close() closes the connection pool. */
export function createContainer(opts: CreateContainerOptions): SkygearContainer {
  const key = opts.apiKey ?? opts.masterKey;
  if (!key) throw new SkyflowError("CONFIG_INVALID", "createContainer needs a masterKey or an apiKey");
  return new SkygearContainer({
    transport: lazyHttpTransport({ endpoint: opts.endpoint, connections: opts.connections }),
    apiKey: key,
    masterKey: opts.masterKey,
    accessToken: opts.accessToken,
    userId: opts.userId,
    timeoutMs: opts.timeoutMs,
  });
}

/**
 * The HTTP transport, its modules (axios, undici: about 10 MB of heap) loaded by the first call: a daemon
 * with the embedded server calls it in-process and never loads them. The endpoint is checked at once.
 */
function lazyHttpTransport(o: { endpoint: string; connections?: number }): Transport {
  new URL(o.endpoint);
  let t: Promise<Transport> | undefined;
  const get = () => (t ??= import("./transport-http.js").then((m) => m.createHttpTransport(o)));
  return {
    async send(action, body, callOpts) {
      return (await get()).send(action, body, callOpts);
    },
    async close() {
      if (t) await (await t).close?.();
    },
  };
}
