// `database_id` of a record request -> which rows it sees (protocol §6.4). No I/O.
import { SkygearServerError } from "../errors.js";
import type { AuthInfo } from "../types.js";

/** public: `_database_id = ''`; private: `_database_id = id`; union: every row (master key, read-only). */
export type Database = { kind: "public"; id: "" } | { kind: "private"; id: string } | { kind: "union" };

export function resolveDatabase(raw: unknown, auth: AuthInfo): Database {
  if (raw === undefined || raw === null || raw === "" || raw === "_public") return { kind: "public", id: "" };
  if (typeof raw !== "string") {
    throw new SkygearServerError("InvalidArgument", "database_id must be a string", {
      info: { arguments: ["database_id"] },
    });
  }
  if (raw === "_private") {
    if (auth.userId === null) {
      throw new SkygearServerError("NotAuthenticated", "the private database needs a logged-in user");
    }
    return { kind: "private", id: auth.userId };
  }
  if (raw === "_union") {
    if (auth.accessType !== "master") {
      throw new SkygearServerError("NotAuthenticated", "the union database needs the master key");
    }
    return { kind: "union" };
  }
  if (raw.startsWith("_")) {
    throw new SkygearServerError("InvalidArgument", `unknown database_id "${raw}"`, {
      info: { arguments: ["database_id"] },
    });
  }
  if (auth.accessType !== "master" && auth.userId !== raw) {
    throw new SkygearServerError("PermissionDenied", "cannot access another user's private database");
  }
  return { kind: "private", id: raw };
}

/** SQL condition on `_database_id` for alias `t`, or null for the union database. */
export function databaseFilter(db: Database, alias: string, add: (v: unknown) => string): string | null {
  return db.kind === "union" ? null : `${alias}._database_id = ${add(db.id)}`;
}
