import { describe, expect, it } from "vitest";
import { SkygearServerError } from "../../../src/server/errors.js";
import { type AccessRow, canAccess, parseAccess } from "../../../src/server/records/acl.js";
import { resolveDatabase } from "../../../src/server/records/database.js";
import { anonymous, master, user } from "./helpers.js";

const row = (access: AccessRow["access"], databaseId = ""): AccessRow => ({
  ownerId: "owner",
  databaseId,
  access,
});

describe("canAccess", () => {
  it("null access is public read and write, even for anonymous callers", () => {
    expect(canAccess(row(null), anonymous, "write")).toBe(true);
  });
  it("an empty list allows only the owner and the master key", () => {
    expect(canAccess(row([]), user("owner"), "write")).toBe(true);
    expect(canAccess(row([]), user("x"), "read")).toBe(false);
    expect(canAccess(row([]), master, "write")).toBe(true);
  });
  it("any matching entry grants read; write needs a matching write entry", () => {
    const acl = row([
      { level: "read", public: true },
      { level: "write", user_id: "w" },
      { level: "write", role: "ed" },
    ]);
    expect(canAccess(acl, anonymous, "read")).toBe(true);
    expect(canAccess(acl, anonymous, "write")).toBe(false);
    expect(canAccess(acl, user("w"), "write")).toBe(true);
    expect(canAccess(acl, user("z", ["ed"]), "write")).toBe(true);
    expect(canAccess(acl, user("z", ["other"]), "write")).toBe(false);
  });
  it("relation entries never match", () => {
    expect(canAccess(row([{ level: "read", relation: "friend" }]), user("x"), "read")).toBe(false);
  });
  it("a row in someone else's private database is denied unless its access is null", () => {
    expect(canAccess(row([{ level: "read", public: true }], "someone"), user("x"), "read")).toBe(false);
    expect(canAccess(row([], "owner"), user("owner"), "write")).toBe(true);
  });
});

describe("parseAccess", () => {
  it("keeps one principal per entry and refuses bad entries with 108", () => {
    expect(parseAccess([{ level: "read", public: true, extra: 1 }])).toEqual([
      { level: "read", public: true },
    ]);
    expect(parseAccess(null)).toBeNull();
    for (const bad of ["x", [{ level: "read" }], [{ public: true }], [null]]) {
      expect(() => parseAccess(bad)).toThrow(SkygearServerError);
    }
  });
});

describe("resolveDatabase", () => {
  it("maps database ids to row sets and refuses what the caller may not use", () => {
    expect(resolveDatabase(undefined, anonymous)).toEqual({ kind: "public", id: "" });
    expect(resolveDatabase("_private", user("u"))).toEqual({ kind: "private", id: "u" });
    expect(resolveDatabase("_union", master)).toEqual({ kind: "union" });
    expect(resolveDatabase("u", user("u"))).toEqual({ kind: "private", id: "u" });
    const code = (raw: unknown, auth = user("u")) => {
      try {
        resolveDatabase(raw, auth);
      } catch (err) {
        return (err as SkygearServerError).code;
      }
      return 0;
    };
    expect(code("_private", anonymous)).toBe(101);
    expect(code("_union")).toBe(101);
    expect(code("v")).toBe(102);
    expect(code("_weird")).toBe(108);
    expect(code(5)).toBe(108);
  });
});
