// A Skygear-compatible server for tests: the real handler behind a real HTTP + websocket server on
// 127.0.0.1:0, with fixed test keys. Pass the pool of createTestDatabase; call close() in afterAll.
import type pg from "pg";
import { appSchemaName } from "../../src/config.js";
import { type Logger, silentLogger } from "../../src/log.js";
import { startSkygearServer } from "../../src/server/http.js";
import { createSkygearHandler, type SkygearServerHandler } from "../../src/server/index.js";
import type { ServerLimits } from "../../src/server/limits.js";
import type { ActionSpec, ServerConfig } from "../../src/server/types.js";

export const TEST_API_KEY = "test-api-key";
export const TEST_MASTER_KEY = "test-master-key";
export const TEST_APP_NAME = "testapp";

export interface TestServerOptions {
  appName?: string;
  actions?: ActionSpec[];
  /** See SkygearHandlerOptions: master-key auth cache lifetime (default 1000 ms) and its clock. */
  authCacheMs?: number;
  now?: () => number;
  /** The server's logger (default: silent); capturedLogger in test/helpers/log.ts reads it back. */
  log?: Logger;
  /** Request limits (default: DEFAULT_LIMITS). */
  limits?: ServerLimits;
}

export interface TestServer {
  /** `http://127.0.0.1:<port>/` (trailing slash, as the SDK stores its endpoint). */
  url: string;
  port: number;
  handler: SkygearServerHandler;
  config: ServerConfig;
  close(): Promise<void>;
}

export async function startTestServer(pool: pg.Pool, opts: TestServerOptions = {}): Promise<TestServer> {
  const appName = opts.appName ?? TEST_APP_NAME;
  const config: ServerConfig = {
    appName,
    schema: appSchemaName(appName),
    apiKey: TEST_API_KEY,
    masterKey: TEST_MASTER_KEY,
    ...(opts.limits ? { limits: opts.limits } : {}),
  };
  const handler = createSkygearHandler({
    pool,
    config,
    log: opts.log ?? silentLogger(),
    actions: opts.actions,
    authCacheMs: opts.authCacheMs,
    now: opts.now,
  });
  await handler.ready();
  const server = await startSkygearServer({ handler, port: 0 });
  return {
    url: server.url,
    port: server.port,
    handler,
    config,
    async close() {
      await server.close();
      await handler.close();
    },
  };
}
