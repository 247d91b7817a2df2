// The authentication preprocessors of S: preprocessor/auth.go (protocol §1.3-§1.5): key check, token lookup,
// `_user_id` impersonation, `_god` for the bare master key, on-the-fly _auth rows, disabled users, roles.
import { ensureAuth, findAuth, loadRoles } from "./auth/store.js";
import { lookupToken } from "./auth/tokens.js";
import type { Credentials } from "./envelope.js";
import { SkygearServerError } from "./errors.js";
import type { AppContext, AuthInfo, AuthRequirement } from "./types.js";

export const GOD_USER = "_god";

type AccessType = AuthInfo["accessType"];

/** Plain string equality against master first, then the API key (§1.3); wrong -> 103. */
export function accessTypeOf(apiKey: string, app: AppContext): AccessType {
  if (apiKey === "") return "none";
  if (apiKey === app.config.masterKey) return "master";
  if (apiKey === app.config.apiKey) return "client";
  throw new SkygearServerError("AccessKeyNotAccepted", "Cannot verify api key");
}

export async function authenticate(
  need: AuthRequirement,
  creds: Credentials,
  app: AppContext,
): Promise<AuthInfo> {
  if (need === "none") return softAuth(creds, app);
  const accessType = accessTypeOf(creds.apiKey, app);
  if (need === "accesskey" || need === "require_master") {
    if (accessType === "none") throw new SkygearServerError("NotAuthenticated", "Api key is empty");
    if (need === "require_master" && accessType !== "master") {
      throw new SkygearServerError("PermissionDenied", "requires master key", { status: 401 });
    }
    return { accessType, userId: null, roles: [] };
  }
  const userId = await userFromCredentials(accessType, creds, app);
  if (userId === null) {
    if (need === "require_auth") {
      throw new SkygearServerError("NotAuthenticated", "Authentication is needed to access this resource");
    }
    return { accessType, userId: null, roles: [] };
  }
  return { accessType, userId, roles: await loadRoles(app.pool, app.config.schema, userId) };
}

/** Token first (no API key needed with a valid token); else the key, with `_user_id` or `_god` for master. */
async function userFromCredentials(
  accessType: AccessType,
  creds: Credentials,
  app: AppContext,
): Promise<string | null> {
  const { pool, config } = app;
  if (creds.accessToken !== "") {
    const tok = await lookupToken(pool, config.schema, creds.accessToken);
    if (!tok) throw tokenRefused();
    const auth = await findAuth(pool, config.schema, tok.authId);
    if (!auth) throw tokenRefused();
    if (auth.tokenValidSince && auth.tokenValidSince.getTime() > tok.issuedAt.getTime()) throw tokenRefused();
    checkDisabled(auth);
    return auth.id;
  }
  if (accessType === "none") throw new SkygearServerError("NotAuthenticated", "Api key is empty");
  if (accessType !== "master") return null;
  const id = creds.userId ?? GOD_USER;
  // A read on the hot path; the insert happens once per new id.
  const auth = await findAuth(pool, config.schema, id);
  if (auth) checkDisabled(auth);
  else await ensureAuth(pool, config.schema, id);
  return id;
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
  const tok = await lookupToken(app.pool, app.config.schema, creds.accessToken);
  if (!tok) return { accessType, userId: null, roles: [] };
  return { accessType, userId: tok.authId, roles: await loadRoles(app.pool, app.config.schema, tok.authId) };
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
  return new SkygearServerError("AccessTokenNotAccepted", "token expired");
}
