// auth:signup, auth:login, auth:logout and `me` (protocol §11, S: handler/auth.go): the AuthResponse shape
// `{user_id, profile, roles?, access_token, last_login_at?, last_seen_at?}`.
import { randomUUID } from "node:crypto";
import { ident, withTransaction } from "../../db/pool.js";
import { SkygearServerError } from "../errors.js";
import { checkDisabled } from "../preprocess.js";
import type { ActionSpec, AppContext } from "../types.js";
import { hashPassword, verifyPassword } from "./password.js";
import { type ActionLookup, loadUserRecord, saveUserRecord } from "./profile.js";
import {
  assignDefaultRoles,
  findAuth,
  findUserByAuthData,
  insertAuth,
  loadRoles,
  setPassword,
  touchLogin,
  touchSeen,
} from "./store.js";
import { issueToken, revokeToken } from "./tokens.js";

/** AUTH_RECORD_KEYS of v1: the auth_data keys a user can sign up and log in with. */
const AUTH_RECORD_KEYS = new Set(["username", "email"]);
const MAX_AUTH_DATA_BYTES = 2048;

function invalid(message: string, args: string[]): SkygearServerError {
  return new SkygearServerError("InvalidArgument", message, { info: { arguments: args } });
}

/**
 * `auth_data` as a string map of allowed keys, null entries dropped; {} when missing or all null. Anything
 * else v1 cannot log in with (an unknown key, a non-string value) is its "invalid auth data".
 */
export function parseAuthData(raw: unknown): Record<string, string> {
  if (raw === undefined || raw === null) return {};
  if (typeof raw !== "object" || Array.isArray(raw)) throw invalidAuthData();
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(raw)) {
    if (!AUTH_RECORD_KEYS.has(k)) throw invalidAuthData();
    if (v === null || v === undefined) continue;
    if (typeof v !== "string" || v === "") throw invalidAuthData();
    // Unique-indexed: longer would fail the index (v1 answers 500 when it does).
    if (Buffer.byteLength(v) > MAX_AUTH_DATA_BYTES)
      throw invalid(`auth_data.${k} is longer than ${MAX_AUTH_DATA_BYTES} bytes`, ["auth_data"]);
    out[k] = v;
  }
  return out;
}

function invalidAuthData(): SkygearServerError {
  return invalid("invalid auth data", ["auth_data"]);
}

/** No auth provider is configured: v1's answer for any `provider` (S: provider/registry.go). */
function noProvider(provider: string): SkygearServerError {
  return invalid(`no auth provider of name "${provider}"`, ["provider"]);
}

/**
 * v1 AuthResponse: the user record, its `last_login_at` (a date field of the record), and the _auth row's
 * `last_seen_at`, both as they were before this request (S: handler/common.go NewAuthResponse).
 */
async function authResponse(
  app: AppContext,
  userId: string,
  record: Record<string, unknown>,
): Promise<Record<string, unknown>> {
  const { pool, config } = app;
  const [auth, roles, token] = await Promise.all([
    findAuth(pool, config.schema, userId),
    loadRoles(pool, config.schema, userId),
    issueToken(pool, config.schema, userId),
  ]);
  const out: Record<string, unknown> = { user_id: userId, profile: record, access_token: token };
  if (roles.length > 0) out.roles = roles;
  const lastLogin = record.last_login_at as { $type?: string; $date?: string } | undefined;
  if (lastLogin?.$type === "date" && typeof lastLogin.$date === "string") out.last_login_at = lastLogin.$date;
  if (auth?.lastSeenAt) out.last_seen_at = auth.lastSeenAt.toISOString();
  return out;
}

/** After signup and login, as v1 does: `_auth.last_seen_at` and the user record's `last_login_at` = now. */
async function recordLogin(lookup: ActionLookup, app: AppContext, userId: string): Promise<void> {
  const now = new Date().toISOString();
  await touchLogin(app.pool, app.config.schema, userId);
  await saveUserRecord(lookup, app, userId, { last_login_at: { $type: "date", $date: now } });
}

async function signup(lookup: ActionLookup, app: AppContext, payload: Record<string, unknown>) {
  const parsed = parseAuthDataOrEmpty(payload.auth_data);
  const badAuthData = parsed === "invalid";
  const authData = badAuthData ? {} : parsed;
  const password = typeof payload.password === "string" ? payload.password : "";
  const provider = typeof payload.provider === "string" ? payload.provider : "";
  const profile = payload.profile ?? {};
  if (typeof profile !== "object" || profile === null || Array.isArray(profile)) {
    throw invalid("profile must be an object", ["profile"]);
  }
  // v1 signupPayload.Validate: anonymous only without auth data, password and provider.
  const anonymous = !badAuthData && Object.keys(authData).length === 0 && password === "" && provider === "";
  if (!anonymous && provider !== "") throw noProvider(provider);
  if (!anonymous) {
    if (badAuthData || Object.keys(authData).length === 0) throw invalidAuthData();
    const dup = Object.keys(authData).filter((k) => Object.hasOwn(profile, k));
    if (dup.length > 0) throw invalid("duplicated keys found in auth data in profile", dup);
    if (password === "") throw invalid("empty password", ["password"]);
  }
  for (const [k, v] of Object.entries(authData)) {
    if (await findUserByAuthData(app.pool, app.config.schema, { [k]: v })) {
      throw new SkygearServerError("Duplicated", "user duplicated");
    }
  }
  const userId = randomUUID();
  const hash = anonymous ? null : await hashPassword(password);
  await withTransaction(app.pool, async (client) => {
    await insertAuth(client, app.config.schema, userId, hash);
    await assignDefaultRoles(client, app.config.schema, userId);
  });
  let record: Record<string, unknown>;
  try {
    record = await saveUserRecord(lookup, app, userId, { ...profile, ...authData });
  } catch (err) {
    // Keep signup all-or-nothing: no _auth row without its user record.
    await removeAuth(app, userId);
    if (err instanceof SkygearServerError && err.errorName === "ConstraintViolated") {
      throw new SkygearServerError("Duplicated", "user duplicated");
    }
    throw err;
  }
  const res = await authResponse(app, userId, record);
  await recordLogin(lookup, app, userId);
  return res;
}

function parseAuthDataOrEmpty(raw: unknown): Record<string, string> | "invalid" {
  try {
    return parseAuthData(raw);
  } catch (err) {
    if (err instanceof SkygearServerError && err.message === "invalid auth data") return "invalid";
    throw err;
  }
}

async function removeAuth(app: AppContext, userId: string): Promise<void> {
  await withTransaction(app.pool, async (client) => {
    const s = ident(app.config.schema);
    await client.query(`DELETE FROM ${s}._auth_role WHERE auth_id = $1`, [userId]);
    await client.query(`DELETE FROM ${s}._auth WHERE id = $1`, [userId]);
  });
}

async function login(lookup: ActionLookup, app: AppContext, payload: Record<string, unknown>) {
  if (typeof payload.provider === "string" && payload.provider !== "") throw noProvider(payload.provider);
  const authData = parseAuthData(payload.auth_data);
  if (Object.keys(authData).length === 0) throw invalidAuthData();
  const password = typeof payload.password === "string" ? payload.password : "";
  const userId = await findUserByAuthData(app.pool, app.config.schema, authData);
  if (!userId) throw new SkygearServerError("ResourceNotFound", "user not found");
  const auth = await findAuth(app.pool, app.config.schema, userId);
  if (auth) checkDisabled(auth);
  if (!auth || !(await verifyPassword(password, auth.password))) {
    throw new SkygearServerError("InvalidCredentials", "auth_data or password incorrect");
  }
  const res = await authResponse(app, userId, await loadUserRecord(lookup, app, userId));
  await recordLogin(lookup, app, userId);
  return res;
}

function stringArg(payload: Record<string, unknown>, key: string): string {
  const v = payload[key];
  return typeof v === "string" ? v : "";
}

/** auth:password (S: handler/auth.go ChangePasswordHandler): the old password, then a new one and token. */
async function changePassword(
  lookup: ActionLookup,
  app: AppContext,
  userId: string,
  payload: Record<string, unknown>,
) {
  const [old, next] = [stringArg(payload, "old_password"), stringArg(payload, "password")];
  if (old === "") throw invalid("empty old password", ["old_password"]);
  if (next === "") throw invalid("empty password", ["password"]);
  const auth = await findAuth(app.pool, app.config.schema, userId);
  if (!auth || !(await verifyPassword(old, auth.password))) {
    throw new SkygearServerError("InvalidCredentials", "Incorrect old password");
  }
  await setPassword(app.pool, app.config.schema, userId, await hashPassword(next));
  return authResponse(app, userId, await loadUserRecord(lookup, app, userId));
}

/** auth:reset_password (master key; S: ResetPasswordHandler): any user's password, a new token for them. */
async function resetPassword(lookup: ActionLookup, app: AppContext, payload: Record<string, unknown>) {
  const [authId, next] = [stringArg(payload, "auth_id"), stringArg(payload, "password")];
  if (authId === "") throw invalid("empty auth_id", ["auth_id"]);
  if (next === "") throw invalid("empty password", ["password"]);
  if (!(await findAuth(app.pool, app.config.schema, authId))) {
    throw new SkygearServerError("UnexpectedAuthInfoNotFound", "skydb: AuthInfo ID not found");
  }
  await setPassword(app.pool, app.config.schema, authId, await hashPassword(next));
  return authResponse(app, authId, await loadUserRecord(lookup, app, authId));
}

async function me(lookup: ActionLookup, app: AppContext, userId: string) {
  const res = await authResponse(app, userId, await loadUserRecord(lookup, app, userId));
  await touchSeen(app.pool, app.config.schema, userId);
  return res;
}

export function authActions(lookup: ActionLookup): ActionSpec[] {
  return [
    {
      name: "auth:signup",
      auth: "accesskey",
      handle: async (req) => ({ result: await signup(lookup, req.app, req.payload) }),
    },
    {
      name: "auth:login",
      auth: "accesskey",
      handle: async (req) => ({ result: await login(lookup, req.app, req.payload) }),
    },
    {
      name: "auth:logout",
      auth: "require_auth",
      async handle(req) {
        const token = req.payload.access_token;
        if (typeof token === "string" && token !== "") {
          await revokeToken(req.app.pool, req.app.config.schema, token);
        }
        return { result: { status: "OK" } };
      },
    },
    {
      name: "auth:password",
      auth: "require_auth",
      handle: async (req) => ({
        result: await changePassword(lookup, req.app, req.auth.userId!, req.payload),
      }),
    },
    {
      name: "auth:reset_password",
      auth: "require_master",
      handle: async (req) => ({ result: await resetPassword(lookup, req.app, req.payload) }),
    },
    {
      name: "me",
      auth: "require_auth",
      handle: async (req) => ({ result: await me(lookup, req.app, req.auth.userId!) }),
    },
  ];
}
