// The request pipeline shared by both transports: body check, action routing (path wins, then the body's
// `action`, then home), credentials, preprocessors, the handler, and the v1 envelope. Handler exceptions
// become UnexpectedError 500 without internals.
import type { AuthCache } from "./auth/cache.js";
import {
  asPayload,
  badBody,
  fail,
  type HandlerResponse,
  ok,
  readCredentials,
  unexpected,
} from "./envelope.js";
import { SkygearServerError } from "./errors.js";
import { HOME } from "./health.js";
import { authenticate } from "./preprocess.js";
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
    if (err instanceof SkygearServerError) {
      const res = fail(err);
      logDone(ctx, spec.name, res.status, started);
      return res;
    }
    ctx.app.log.error({ action: spec.name, err: describe(err) }, "action failed unexpectedly");
    return fail(unexpected());
  }
}

function logDone(ctx: RouterContext, action: string, status: number, started: number): void {
  ctx.app.log.debug({ action, status, ms: Math.round((performance.now() - started) * 10) / 10 }, "action");
}

/** Name, message and pg code only: never the payload, which may carry keys and passwords. */
function describe(err: unknown): Record<string, unknown> {
  if (err instanceof Error) {
    return { name: err.name, message: err.message, code: (err as { code?: unknown }).code };
  }
  return { value: String(err) };
}
