// The v1 request and response shapes (protocol §1.1, §1.2, §2.1): which action a request names, its
// credentials, and the `{result, info?}` / `{error}` envelopes with their HTTP statuses. No I/O.
import { SkygearServerError } from "./errors.js";
import type { ActionResult } from "./types.js";

export interface Credentials {
  apiKey: string;
  accessToken: string;
  /** Impersonation: only a string `_user_id` counts. */
  userId: string | undefined;
}

export interface HandlerResponse {
  status: number;
  body: unknown;
}

/** `/record/query` -> `record:query`; `/` or empty -> "". */
export function actionFromPath(path: string): string {
  const clean = path.split("?")[0] ?? "";
  return clean.replace(/^\/+/, "").replace(/\/+$/, "").split("/").filter(Boolean).join(":");
}

/** Header values win over body fields when non-empty; non-string body values count as absent. */
export function readCredentials(
  body: Record<string, unknown>,
  headers: Record<string, string | undefined>,
): Credentials {
  const header = (name: string): string => {
    const v = headers[name] ?? findHeader(headers, name);
    return typeof v === "string" ? v : "";
  };
  const str = (v: unknown): string => (typeof v === "string" ? v : "");
  return {
    apiKey: header("x-skygear-api-key") || str(body.api_key),
    accessToken: header("x-skygear-access-token") || str(body.access_token),
    userId: typeof body._user_id === "string" && body._user_id !== "" ? body._user_id : undefined,
  };
}

function findHeader(headers: Record<string, string | undefined>, lower: string): string | undefined {
  for (const [k, v] of Object.entries(headers)) if (k.toLowerCase() === lower) return v;
  return undefined;
}

/** The body must be a JSON object; null/undefined (an empty body) count as `{}`. */
export function asPayload(body: unknown): Record<string, unknown> | undefined {
  if (body === undefined || body === null || body === "") return {};
  if (typeof body === "object" && !Array.isArray(body)) return body as Record<string, unknown>;
  return undefined;
}

export function ok(r: ActionResult): HandlerResponse {
  const body: Record<string, unknown> = { result: r.result === undefined ? null : r.result };
  if (r.info !== undefined) body.info = r.info;
  return { status: 200, body };
}

export function fail(err: SkygearServerError): HandlerResponse {
  // The JS SDK treats any non-2xx as failure and every 2xx as success: an error must never be 2xx.
  const status = err.status >= 200 && err.status < 300 ? 500 : err.status;
  return { status, body: { error: err.toJSON() } };
}

/**
 * A body that is not a JSON object: HTTP 400 and BadRequest (107), the error v1 builds for it
 * (S: router/common.go) but never writes (it sends the status with an empty body).
 */
export function badBody(why = "the request body must be a JSON object"): HandlerResponse {
  return fail(new SkygearServerError("BadRequest", why));
}
