// Assembles the dashboard for a daemon: who may use it (open on loopback under `dev`, else the master key or
// SKYFLOW_DASHBOARD_TOKEN), its live feed over this engine and the database, and under `dev` with the
// embedded server, the log of what that server carried.
import type pg from "pg";
import type { Config } from "../config.js";
import type { LiveCatalog } from "../engine/catalog.js";
import type { Engine } from "../engine/engine.js";
import type { Logger } from "../log.js";
import type { Hub } from "../server/pubsub/hub.js";
import { DashboardAccess } from "./auth.js";
import { createDashboardHandler } from "./dashboard.js";
import { DevLog } from "./dev-log.js";
import { LiveFeed } from "./live.js";
import type { RouteHandler } from "./status.js";

export interface MountedDashboard {
  handler: RouteHandler;
  close(): void;
}

export function mountDashboard(o: {
  mode: "dev" | "start";
  config: Config;
  pool: pg.Pool;
  catalog: LiveCatalog;
  engine: Engine;
  log: Logger;
  appSchema: string;
  hubs: Hub[];
  refreshPaused: () => Promise<void>;
}): MountedDashboard {
  const { config } = o;
  const secrets = [
    config.apiKey,
    config.masterKey,
    ...(config.dashboardToken ? [config.dashboardToken] : []),
  ];
  const dev =
    o.mode === "dev" && o.hubs.length > 0
      ? new DevLog({ pool: o.pool, schema: o.appSchema, hubs: o.hubs, secrets })
      : undefined;
  const live = new LiveFeed({
    db: o.pool,
    catalog: o.catalog,
    log: o.log,
    engine: o.engine,
    devStamp: dev ? () => dev.stamp() : undefined,
  });
  const access = new DashboardAccess({
    openOnLoopback: o.mode === "dev",
    secrets: [config.masterKey, ...(config.dashboardToken ? [config.dashboardToken] : [])],
  });
  const handler = createDashboardHandler({
    pool: o.pool,
    catalog: o.catalog,
    mode: o.mode,
    access,
    live,
    secrets,
    engine: o.engine,
    dev,
    refreshPaused: o.refreshPaused,
  });
  return {
    handler,
    close() {
      live.close();
      dev?.close();
    },
  };
}
