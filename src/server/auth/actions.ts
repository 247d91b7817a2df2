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
  touchLogin,
} from "./store.js";
import { issueToken, revokeToken } from "./tokens.js";

/** AUTH_RECORD_KEYS of v1: the auth_data keys a user can sign up and log in with. */
const AUTH_RECORD_KEYS = new Set(["username", "email"]);
const MAX_AUTH_DATA_BYTES = 2048;

function invalid(message: string, args: string[]): SkygearServerError {
  return new SkygearServerError("InvalidArgument", message, { info: { arguments: args } });
}

/** `auth_data` as a string map of allowed keys; null/missing/empty -> {} (anonymous). */
export function parseAuthData(raw: unknown): Record<string, string> {
  if (raw === undefined || raw === null) return {};
  if (typeof raw !== "object" || Array.isArray(raw))
    throw invalid("auth_data must be an object", ["auth_data"]);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(raw)) {
    if (!AUTH_RECORD_KEYS.has(k)) throw invalid(`auth_data key "${k}" is not allowed`, ["auth_data"]);
    if (v === null || v === undefined) continue;
    if (typeof v !== "string" || v === "")
      throw invalid(`auth_data.${k} must be a non-empty string`, ["auth_data"]);
    // Unique-indexed: longer would fail the index (v1 answers 500 when it does).
    if (Buffer.byteLength(v) > MAX_AUTH_DATA_BYTES)
      throw invalid(`auth_data.${k} is longer than ${MAX_AUTH_DATA_BYTES} bytes`, ["auth_data"]);
    out[k] = v;
  }
  return out;
}

async function authResponse(
  lookup: ActionLookup,
  app: AppContext,
  userId: string,
  profile?: Record<string, unknown>,
): Promise<Record<string, unknown>> {
  const { pool, config } = app;
  const [auth, roles, record, token] = await Promise.all([
    findAuth(pool, config.schema, userId),
    loadRoles(pool, config.schema, userId),
    profile ? Promise.resolve(profile) : loadUserRecord(lookup, app, userId),
    issueToken(pool, config.schema, userId),
  ]);
  const out: Record<string, unknown> = { user_id: userId, profile: record, access_token: token };
  if (roles.length > 0) out.roles = roles;
  if (auth?.lastLoginAt) out.last_login_at = auth.lastLoginAt.toISOString();
  if (auth?.lastSeenAt) out.last_seen_at = auth.lastSeenAt.toISOString();
  return out;
}

async function signup(lookup: ActionLookup, app: AppContext, payload: Record<string, unknown>) {
  const authData = parseAuthData(payload.auth_data);
  const anonymous = Object.keys(authData).length === 0;
  const password = typeof payload.password === "string" ? payload.password : "";
  if (!anonymous && password === "") throw invalid("empty password is not allowed", ["password"]);
  const profile = payload.profile ?? {};
  if (typeof profile !== "object" || profile === null || Array.isArray(profile)) {
    throw invalid("profile must be an object", ["profile"]);
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
  return authResponse(lookup, app, userId, record);
}

async function removeAuth(app: AppContext, userId: string): Promise<void> {
  await withTransaction(app.pool, async (client) => {
    const s = ident(app.config.schema);
    await client.query(`DELETE FROM ${s}._auth_role WHERE auth_id = $1`, [userId]);
    await client.query(`DELETE FROM ${s}._auth WHERE id = $1`, [userId]);
  });
}

async function login(lookup: ActionLookup, app: AppContext, payload: Record<string, unknown>) {
  if (typeof payload.provider === "string" && payload.provider !== "") {
    throw new SkygearServerError("NotSupported", "auth providers are not supported by this server");
  }
  const authData = parseAuthData(payload.auth_data);
  if (Object.keys(authData).length === 0) throw invalid("empty auth data", ["auth_data"]);
  const password = typeof payload.password === "string" ? payload.password : "";
  const userId = await findUserByAuthData(app.pool, app.config.schema, authData);
  if (!userId) throw new SkygearServerError("ResourceNotFound", "user not found");
  const auth = await findAuth(app.pool, app.config.schema, userId);
  if (!auth || !(await verifyPassword(password, auth.password))) {
    throw new SkygearServerError("InvalidCredentials", "Invalid credentials");
  }
  checkDisabled(auth);
  await touchLogin(app.pool, app.config.schema, userId);
  return authResponse(lookup, app, userId);
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
      name: "me",
      auth: "require_auth",
      handle: async (req) => ({ result: await authResponse(lookup, req.app, req.auth.userId!) }),
    },
  ];
}
