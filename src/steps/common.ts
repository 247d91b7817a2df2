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

export function stringList(v: unknown, what: string): string[] {
  if (!Array.isArray(v) || v.some((x) => typeof x !== "string")) {
    throw new FatalStepError("InvalidArgument", `${what}: expected a list of strings`);
  }
  return v as string[];
}

/** The container as the `as:` user (a `user/` prefix dropped), or the master-key container itself. */
export function actingAs(client: SkygearClient, as: unknown): SkygearClient {
  const id = optString(as, "as");
  return id ? client.asUser(id.startsWith("user/") ? id.slice(5) : id) : client;
}

export function isMapValue(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}
