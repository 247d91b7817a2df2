// The contract inside the Skygear-compatible development server: one action handler that both the HTTP
// transport and the in-process transport call, and the action modules it dispatches to.
import type pg from "pg";
import type { Logger } from "../log.js";
import type { ServerLimits } from "./limits.js";

export interface ServerConfig {
  appName: string;
  /** `app_<appName lowercased, . and : replaced by _>` */
  schema: string;
  apiKey: string;
  masterKey: string;
  /** What one request may ask (body size, records, predicate shape); DEFAULT_LIMITS when absent. */
  limits?: ServerLimits;
}

export interface AuthInfo {
  accessType: "master" | "client" | "none";
  /** The acting user: token owner, impersonated `_user_id`, `_god` for the bare master key, or null. */
  userId: string | null;
  roles: string[];
}

export interface AppContext {
  pool: pg.Pool;
  config: ServerConfig;
  log: Logger;
  /** Publishes on a hub (`/pubsub` = "public", `/_/pubsub` = "internal") to every subscribed socket. */
  publish(hub: "public" | "internal", channel: string, data: unknown): void;
}

export interface ActionRequest {
  action: string;
  /** The JSON body (an object), credentials included. */
  payload: Record<string, unknown>;
  auth: AuthInfo;
  app: AppContext;
}

export interface ActionResult {
  result: unknown;
  info?: unknown;
}

/**
 * Which preprocessors of S: preprocessor/auth.go run before the handler:
 * - none: no key needed (user injected when available)
 * - accesskey: a client or master API key is required
 * - authenticator: key or token; no user required (record:query, record:fetch)
 * - require_auth: authenticator + an AuthInfo (a logged-in or impersonated user, or `_god`)
 * - require_master: the master key
 */
export type AuthRequirement = "none" | "accesskey" | "authenticator" | "require_auth" | "require_master";

export interface ActionSpec {
  name: string;
  auth: AuthRequirement;
  handle(req: ActionRequest): Promise<ActionResult>;
}

/** Both transports call this: HTTP (src/server/http.ts) and in-process (src/skygear/transport-inprocess.ts). */
export interface SkygearHandler {
  handle(req: {
    /** From the URL path (`/record/query` -> `record:query`), if any. */
    pathAction?: string;
    body: unknown;
    headers: Record<string, string | undefined>;
  }): Promise<{ status: number; body: unknown }>;
}
