// Small helpers the step kinds share: reading a resolved block, acting as a user. No I/O.
import { FatalStepError } from "../errors.js";
import type { SkygearClient } from "../skygear/types.js";

export function asMap(v: unknown, what: string): Record<string, unknown> {
  if (v === null || typeof v !== "object" || Array.isArray(v)) {
    throw new FatalStepError("InvalidArgument", `${what}: expected a mapping`);
  }
  return v as Record<string, unknown>;
}

export function optString(v: unknown, what: string): string | undefined {
  if (v === undefined || v === null || v === "") return undefined;
  if (typeof v !== "string") throw new FatalStepError("InvalidArgument", `${what}: expected a string`);
  return v;
}

/**
 * Who a step's Skygear call is made as (workflow-dsl.md, "Who a step acts as"), from the resolved `as`:
 * absent or null, the shared client itself (the API key, no user); `master`, the master key; a user id, the
 * master key with `_user_id`. The loader writes every user id as `user/<value>` (see
 * src/engine/definition/identity.ts), so an expression's value can never read `master`; the author's own
 * `user/` prefix, if any, is dropped too. An id that comes out empty fails the step rather than falling back
 * to another identity.
 */
export function actingAs(client: SkygearClient, as: unknown): SkygearClient {
  if (as === undefined || as === null) return client;
  if (typeof as !== "string") throw new FatalStepError("InvalidArgument", "as: expected a user id");
  if (as === "master") return client.asMaster();
  let id = as.startsWith("user/") ? as.slice(5) : as;
  if (id.startsWith("user/")) id = id.slice(5);
  if (id.trim() === "") {
    throw new FatalStepError(
      "InvalidArgument",
      "as: no user id (the expression gave an empty value or null); guard the step with if: or has()",
    );
  }
  return client.asUser(id);
}
