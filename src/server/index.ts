// createSkygearHandler: the one action handler behind both transports (HTTP and in-process). It owns the
// action table, the pubsub hubs, the app schema bootstrap, and the request pipeline of router.ts.
import type pg from "pg";
import type { Logger } from "../log.js";
import { ensureAppSchema } from "./app-schema.js";
import { authActions } from "./auth/actions.js";
import { AuthCache } from "./auth/cache.js";
import { ensureAuthColumns } from "./auth/store.js";
import { healthActions } from "./health.js";
import { Hub, type HubName } from "./pubsub/hub.js";
import { deviceActions } from "./push/devices.js";
import { ensureOutboxColumns } from "./push/outbox.js";
import { pushActions } from "./push/push.js";
import { recordActions } from "./records/index.js";
import { handleRequest } from "./router.js";
import { schemaActions } from "./schema.js";
import type { ActionSpec, AppContext, ServerConfig, SkygearHandler } from "./types.js";

export interface SkygearHandlerOptions {
  pool: pg.Pool;
  config: ServerConfig;
  log: Logger;
  /** Extra actions (added last, so they replace a built-in action of the same name). */
  actions?: ActionSpec[];
  /** How long master-key requests may reuse an `_auth` row and its roles (default 1000 ms; 0 = never). */
  authCacheMs?: number;
  /** Clock for that cache (tests inject one). */
  now?: () => number;
}

export interface SkygearServerHandler extends SkygearHandler {
  app: AppContext;
  hubs: Record<HubName, Hub>;
  actions: ReadonlyMap<string, ActionSpec>;
  /** Creates the app schema and tables once; every request awaits it. */
  ready(): Promise<void>;
  /** Closes every pubsub socket; later requests answer 503. */
  close(): Promise<void>;
}

export function createSkygearHandler(opts: SkygearHandlerOptions): SkygearServerHandler {
  const hubs: Record<HubName, Hub> = { public: new Hub("public"), internal: new Hub("internal") };
  const app: AppContext = {
    pool: opts.pool,
    config: opts.config,
    log: opts.log,
    publish(hub, channel, data) {
      hubs[hub].publish(channel, data);
    },
  };
  const table = new Map<string, ActionSpec>();
  const lookup = (name: string) => table.get(name);
  const all = [
    ...healthActions,
    ...authActions(lookup),
    ...deviceActions,
    ...pushActions,
    ...recordActions,
    ...schemaActions,
    ...(opts.actions ?? []),
  ];
  for (const spec of all) table.set(spec.name, spec);

  let readyPromise: Promise<void> | undefined;
  const ready = () => {
    if (!readyPromise) {
      readyPromise = (async () => {
        await ensureAppSchema(opts.pool, opts.config.schema);
        await ensureAuthColumns(opts.pool, opts.config.schema);
        await ensureOutboxColumns(opts.pool, opts.config.schema);
      })();
      // A failed bootstrap (database down) is retried by the next request.
      readyPromise.catch(() => {
        readyPromise = undefined;
      });
    }
    return readyPromise;
  };
  const authCache = new AuthCache(opts.authCacheMs ?? 1000, opts.now);
  let closed = false;
  return {
    app,
    hubs,
    actions: table,
    ready,
    handle: (req) => handleRequest(req, { app, table, ready, authCache, closed: () => closed }),
    async close() {
      closed = true;
      hubs.public.closeAll();
      hubs.internal.closeAll();
    },
  };
}
