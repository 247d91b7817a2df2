// The Skygear side of the daemon: with SKYGEAR_ENDPOINT, a container over HTTP and a pubsub client to that
// server; without it, the embedded Skygear-compatible server on PORT, steps calling its handler in-process
// (no network cost), and a pubsub client on its own hub. Also the readiness checks for both.
import type pg from "pg";
import type { Config } from "./config.js";
import { ConfigError } from "./errors.js";
import type { ReadyCheck } from "./http/status.js";
import type { Logger } from "./log.js";
import { startSkygearServer } from "./server/http.js";
import { createSkygearHandler } from "./server/index.js";
import type { Hub } from "./server/pubsub/hub.js";
import { createContainer, SkygearContainer } from "./skygear/container.js";
import { createPubsubClient, type PubsubClient } from "./skygear/pubsub.js";
import { createInProcessTransport } from "./skygear/transport-inprocess.js";

export interface SkygearSide {
  /** Where an SDK should point (the embedded server's URL or SKYGEAR_ENDPOINT). */
  url: string;
  container: SkygearContainer;
  pubsub: PubsubClient;
  checks: Record<string, ReadyCheck>;
  /** The embedded server's pubsub hubs (none with SKYGEAR_ENDPOINT), for the dashboard's log under `dev`. */
  hubs: Hub[];
  close(): Promise<void>;
}

export async function connectSkygear(opts: {
  config: Config;
  pool: pg.Pool;
  log: Logger;
  appSchema: string;
  /** Interface of the embedded server (SKYFLOW_HOST, default loopback). */
  host: string;
}): Promise<SkygearSide> {
  const { config, log } = opts;
  if (config.skygearEndpoint) {
    const url = config.skygearEndpoint.endsWith("/") ? config.skygearEndpoint : `${config.skygearEndpoint}/`;
    const container = createContainer({ endpoint: url, apiKey: config.apiKey, masterKey: config.masterKey });
    const pubsub = createPubsubClient({ endpoint: url, apiKey: config.apiKey, log });
    return finish(url, container, pubsub, [], []);
  }
  const handler = createSkygearHandler({
    pool: opts.pool,
    log: log.child({ component: "skygear" }),
    config: {
      appName: config.appName,
      schema: opts.appSchema,
      apiKey: config.apiKey,
      masterKey: config.masterKey,
      limits: config.serverLimits,
    },
  });
  await handler.ready();
  const server = await startSkygearServer({ handler, port: config.port, host: opts.host }).catch(
    async (err) => {
      await handler.close();
      throw portError("PORT", "--port", config.port, err);
    },
  );
  const container = new SkygearContainer({
    transport: createInProcessTransport(handler),
    apiKey: config.apiKey,
    masterKey: config.masterKey,
  });
  const pubsub = createPubsubClient({ endpoint: server.url, apiKey: config.apiKey, log });
  const hubs = [handler.hubs.public, handler.hubs.internal];
  return finish(server.url, container, pubsub, [server.close, handler.close], hubs);
}

/** A port already taken becomes a configuration error naming the variable and the fix (exit code 2). */
export function portError(variable: string, flag: string, port: number, err: unknown): unknown {
  if ((err as NodeJS.ErrnoException).code !== "EADDRINUSE") return err;
  return new ConfigError(
    variable,
    `port ${port} is already in use; choose another with ${flag} or ${variable}`,
  );
}

function finish(
  url: string,
  container: SkygearContainer,
  pubsub: PubsubClient,
  closers: (() => Promise<unknown>)[],
  hubs: Hub[],
): SkygearSide {
  return {
    url,
    hubs,
    container,
    pubsub,
    checks: {
      skygear: async () => void (await container.sendAction("_status:healthz", {}, { timeoutMs: 2000 })),
      pubsub: async () => {
        if (!pubsub.connected()) throw new Error("the pubsub socket is not connected");
      },
    },
    async close() {
      await pubsub.close();
      await container.transport.close?.();
      for (const c of closers) await c();
    },
  };
}
