// The request pipeline shared by both transports: body check, action routing (path wins, then the body's
// `action`, then home), the body guard, credentials, preprocessors, the handler, and the v1 envelope.
// Handler exceptions become Skygear errors; an unexpected one is a 500 without internals, logged.
import type { AuthCache } from "./auth/cache.js";
import { asPayload, badBody, fail, type HandlerResponse, ok, readCredentials } from "./envelope.js";
import { SkygearServerError } from "./errors.js";
import { HOME } from "./health.js";
import { bodyDepthLimit, limitsOf } from "./limits.js";
import { authenticate } from "./preprocess.js";
import { toSkygearError } from "./records/pg-errors.js";
import { reportUnexpected } from "./report.js";
import { guardBody } from "./request-guard.js";
import type { ActionSpec, AppContext, SkygearHandler } from "./types.js";

export interface RouterContext {
  app: AppContext;
  authCache?: AuthCache;
  table: ReadonlyMap<string, ActionSpec>;
  ready(): Promise<void>;
  closed(): boolean;
}

type HandlerRequest = Parameters<SkygearHandler["handle"]>[0];

/** Path action when it names a registered action; else the body's `action`; else home for neither. */
export function route(
  table: ReadonlyMap<string, ActionSpec>,
  pathAction: string | undefined,
  bodyAction: unknown,
): ActionSpec | undefined {
  if (pathAction) {
    const spec = table.get(pathAction);
    if (spec) return spec;
  }
  if (typeof bodyAction === "string" && bodyAction !== "") return table.get(bodyAction);
  return pathAction ? undefined : HOME;
}

export async function handleRequest(req: HandlerRequest, ctx: RouterContext): Promise<HandlerResponse> {
  const payload = asPayload(req.body);
  if (!payload) return badBody();
  try {
    guardBody(payload, bodyDepthLimit(limitsOf(ctx.app.config)));
  } catch (err) {
    return fail(err as SkygearServerError);
  }
  if (ctx.closed()) return fail(new SkygearServerError("NotConfigured", "server is shutting down"));
  const spec = route(ctx.table, req.pathAction, payload.action);
  if (!spec) return fail(new SkygearServerError("UndefinedOperation", "route unmatched"));
  const started = performance.now();
  try {
    await ctx.ready();
    const creds = readCredentials(payload, req.headers);
    const auth = await authenticate(spec.auth, creds, ctx.app, ctx.authCache);
    // Handlers see the effective token (a header token overrides the body), as v1's payload does.
    const effective = creds.accessToken ? { ...payload, access_token: creds.accessToken } : payload;
    const res = ok(await spec.handle({ action: spec.name, payload: effective, auth, app: ctx.app }));
    logDone(ctx, spec.name, res.status, started);
    return res;
  } catch (err) {
    // Database errors of any action (a value too long for an index, a NUL byte) become the 4xx they
    // deserve; anything else is a generic 500 whose cause only the log shows.
    const e = toSkygearError(err);
    reportUnexpected(ctx.app.log, e, { action: spec.name });
    const res = fail(e);
    logDone(ctx, spec.name, res.status, started);
    return res;
  }
}

function logDone(ctx: RouterContext, action: string, status: number, started: number): void {
  ctx.app.log.debug({ action, status, ms: Math.round((performance.now() - started) * 10) / 10 }, "action");
}
