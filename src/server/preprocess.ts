// The authentication preprocessors of S: preprocessor/auth.go (protocol §1.3-§1.5): key check, token lookup,
// `_user_id` impersonation, `_god` for the bare master key, on-the-fly _auth rows, disabled users, roles.
import { createHash, timingSafeEqual } from "node:crypto";
import type { AuthCache } from "./auth/cache.js";
import { ensureAuth, findAuthByTokenDigest, findAuthWithRoles } from "./auth/store.js";
import { digest } from "./auth/tokens.js";
import type { Credentials } from "./envelope.js";
import { SkygearServerError } from "./errors.js";
import type { AppContext, AuthInfo, AuthRequirement } from "./types.js";

export const GOD_USER = "_god";

type AccessType = AuthInfo["accessType"];

/** Master first, then the API key (§1.3); wrong -> 103. Compared in constant time, unlike v1. */
export function accessTypeOf(apiKey: string, app: AppContext): AccessType {
  if (apiKey === "") return "none";
  const given = sha256(apiKey);
  const keys = keyDigests(app.config);
  if (timingSafeEqual(given, keys.master)) return "master";
  if (timingSafeEqual(given, keys.api)) return "client";
  throw new SkygearServerError("AccessKeyNotAccepted", "Cannot verify api key");
}

const sha256 = (s: string): Buffer => createHash("sha256").update(s).digest();

// The configured keys' digests, computed once per server configuration.
const digests = new WeakMap<AppContext["config"], { master: Buffer; api: Buffer }>();
function keyDigests(config: AppContext["config"]): { master: Buffer; api: Buffer } {
  let d = digests.get(config);
  if (!d) {
    d = { master: sha256(config.masterKey), api: sha256(config.apiKey) };
    digests.set(config, d);
  }
  return d;
}

export async function authenticate(
  need: AuthRequirement,
  creds: Credentials,
  app: AppContext,
  cache?: AuthCache,
): Promise<AuthInfo> {
  if (need === "none") return softAuth(creds, app);
  const accessType = accessTypeOf(creds.apiKey, app);
  if (need === "accesskey" || need === "require_master") {
    if (accessType === "none") throw new SkygearServerError("NotAuthenticated", "Api key is empty");
    if (need === "require_master" && accessType !== "master") {
      throw new SkygearServerError("PermissionDenied", "no permission to this action", { status: 401 });
    }
    return { accessType, userId: null, roles: [] };
  }
  const user = await userFromCredentials(accessType, creds, app, cache);
  if (user === null) {
    if (need === "require_auth") {
      throw new SkygearServerError(
        "NotAuthenticated",
        "Authentication is required for this action, please login.",
      );
    }
    return { accessType, userId: null, roles: [] };
  }
  return { accessType, userId: user.id, roles: user.roles };
}

/** Token first (no API key needed with a valid token); else the key, with `_user_id` or `_god` for master. */
async function userFromCredentials(
  accessType: AccessType,
  creds: Credentials,
  app: AppContext,
  cache: AuthCache | undefined,
): Promise<{ id: string; roles: string[] } | null> {
  const { pool, config } = app;
  if (creds.accessToken !== "") {
    const auth = await findAuthByTokenDigest(pool, config.schema, digest(creds.accessToken));
    if (!auth) throw tokenRefused();
    // v1 keeps a token issued up to a second before token_valid_since (S: preprocessor.go isTokenStillValid).
    if (auth.tokenValidSince && auth.issuedAt.getTime() <= auth.tokenValidSince.getTime() - 1000)
      throw tokenRefused();
    checkDisabled(auth);
    return auth;
  }
  if (accessType === "none") throw new SkygearServerError("NotAuthenticated", "Api key is empty");
  if (accessType !== "master") return null;
  const id = creds.userId ?? GOD_USER;
  // One read (or none, when cached) on the hot path; the insert happens once per new id.
  let auth = cache?.get(id);
  if (!auth) {
    auth = await findAuthWithRoles(pool, config.schema, id);
    if (!auth) {
      await ensureAuth(pool, config.schema, id);
      auth = await findAuthWithRoles(pool, config.schema, id);
      if (!auth) throw new SkygearServerError("UnexpectedAuthInfoNotFound", "auth info not found");
    }
    cache?.set(id, auth);
  }
  checkDisabled(auth);
  return auth;
}

/** For `none` actions: inject what the credentials prove, never refuse. */
async function softAuth(creds: Credentials, app: AppContext): Promise<AuthInfo> {
  let accessType: AccessType = "none";
  try {
    accessType = accessTypeOf(creds.apiKey, app);
  } catch {
    accessType = "none";
  }
  if (creds.accessToken === "") return { accessType, userId: null, roles: [] };
  const auth = await findAuthByTokenDigest(app.pool, app.config.schema, digest(creds.accessToken));
  if (!auth) return { accessType, userId: null, roles: [] };
  return { accessType, userId: auth.id, roles: auth.roles };
}

export function checkDisabled(auth: {
  disabled: boolean;
  disabledMessage: string | null;
  disabledExpiry: Date | null;
}): void {
  if (!auth.disabled) return;
  if (auth.disabledExpiry && auth.disabledExpiry.getTime() <= Date.now()) return;
  const info: Record<string, unknown> = {};
  if (auth.disabledExpiry) info.expiry = auth.disabledExpiry.toISOString();
  if (auth.disabledMessage) info.message = auth.disabledMessage;
  throw new SkygearServerError("UserDisabled", "user is disabled", { info });
}

function tokenRefused(): SkygearServerError {
  return new SkygearServerError("AccessTokenNotAccepted", "token does not exist or it has expired");
}
