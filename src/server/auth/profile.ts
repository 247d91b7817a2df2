// The `user/<id>` record that signup, login and `me` return as `profile` (§11). Written and read through
// the record actions acting as the master key for that user, so typed values and new columns behave
// exactly as in record:save / record:fetch.
import { ERROR_CODES, type ErrorName, SkygearServerError } from "../errors.js";
import type { ActionSpec, AppContext } from "../types.js";

export type ActionLookup = (name: string) => ActionSpec | undefined;

async function callAsMaster(
  lookup: ActionLookup,
  app: AppContext,
  name: string,
  userId: string,
  payload: Record<string, unknown>,
): Promise<unknown[]> {
  const spec = lookup(name);
  if (!spec) throw new SkygearServerError("NotImplemented", `${name} is not available`);
  const res = await spec.handle({
    action: name,
    payload: { action: name, ...payload },
    auth: { accessType: "master", userId, roles: [] },
    app,
  });
  return Array.isArray(res.result) ? res.result : [];
}

function itemError(item: unknown): SkygearServerError | undefined {
  if (!item || typeof item !== "object") return undefined;
  const o = item as Record<string, unknown>;
  if (o._type !== "error") return undefined;
  const name = typeof o.name === "string" ? o.name : "UnexpectedError";
  const known: ErrorName = name in ERROR_CODES ? (name as ErrorName) : "UnexpectedError";
  return new SkygearServerError(known, typeof o.message === "string" ? o.message : "user record error", {
    info: o.info,
  });
}

/** Saves (creates or merges) the user record; returns its JSON. */
export async function saveUserRecord(
  lookup: ActionLookup,
  app: AppContext,
  userId: string,
  fields: Record<string, unknown>,
): Promise<Record<string, unknown>> {
  const [item] = await callAsMaster(lookup, app, "record:save", userId, {
    database_id: "_public",
    records: [{ ...fields, _id: `user/${userId}` }],
  });
  const err = itemError(item);
  if (err) throw err;
  if (!item || typeof item !== "object") throw new SkygearServerError("UnexpectedError", "user not saved");
  return item as Record<string, unknown>;
}

/** The user record, created empty when missing (v1 `require_user`). */
export async function loadUserRecord(
  lookup: ActionLookup,
  app: AppContext,
  userId: string,
): Promise<Record<string, unknown>> {
  const [item] = await callAsMaster(lookup, app, "record:fetch", userId, {
    database_id: "_public",
    ids: [`user/${userId}`],
  });
  if (item && typeof item === "object" && (item as Record<string, unknown>)._type !== "error") {
    return item as Record<string, unknown>;
  }
  return saveUserRecord(lookup, app, userId, {});
}
