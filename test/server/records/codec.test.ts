import { describe, expect, it } from "vitest";
import { rowToRecordJSON, timestampToRFC3339 } from "../../../src/server/records/codec.js";
import type { ColumnInfo } from "../../../src/server/records/types.js";

const columns = new Map<string, ColumnInfo>([
  ["title", { type: "string" }],
  ["due", { type: "date" }],
  ["author", { type: "ref", refType: "user" }],
  ["no", { type: "seq" }],
  ["meta", { type: "json" }],
  ["spot", { type: "unknown", underlying: "point" }],
]);

// A row exactly as to_jsonb(NEW) renders it inside a trigger.
const row = {
  _id: "k/with/slash",
  _database_id: "",
  _owner_id: "u1",
  _access: [{ level: "read", public: true }],
  _created_at: "2026-01-02T03:04:05.123456",
  _created_by: "u1",
  _updated_at: "2026-01-02T03:04:06",
  _updated_by: "u2",
  title: "hello",
  due: "2026-05-01T00:00:00",
  author: "u9",
  no: 7,
  meta: { a: [1, 2] },
  spot: "(1,2)",
  gone: null,
};

describe("rowToRecordJSON", () => {
  it("encodes a to_jsonb row as record:query does", () => {
    expect(rowToRecordJSON("task", row, columns)).toEqual({
      _id: "task/k/with/slash",
      _type: "record",
      _access: [{ level: "read", public: true }],
      _ownerID: "u1",
      _created_at: "2026-01-02T03:04:05.123456Z",
      _created_by: "u1",
      _updated_at: "2026-01-02T03:04:06Z",
      _updated_by: "u2",
      title: "hello",
      due: { $type: "date", $date: "2026-05-01T00:00:00Z" },
      author: { $type: "ref", $id: "user/u9" },
      no: 7,
      meta: { a: [1, 2] },
      spot: { $type: "unknown", $underlying_type: "point" },
    });
  });

  it("null access stays null, empty owner and NULL columns are omitted", () => {
    const out = rowToRecordJSON("task", { ...row, _access: null, _owner_id: "" }, columns);
    expect(out._access).toBeNull();
    expect(out).not.toHaveProperty("_ownerID");
    expect(out).not.toHaveProperty("gone");
    expect(out).not.toHaveProperty("_database_id");
  });

  it("without column info values pass through as plain JSON", () => {
    expect(rowToRecordJSON("task", row).due).toBe("2026-05-01T00:00:00");
  });

  it("desired keys limit the user fields", () => {
    const out = rowToRecordJSON("task", row, columns, new Set(["title"]));
    expect(Object.keys(out).filter((k) => !k.startsWith("_"))).toEqual(["title"]);
  });
});

describe("timestampToRFC3339", () => {
  it("marks a zone-less timestamp as UTC and normalises +00:00", () => {
    expect(timestampToRFC3339("2026-01-02T03:04:05.1")).toBe("2026-01-02T03:04:05.1Z");
    expect(timestampToRFC3339("2026-01-02 03:04:05")).toBe("2026-01-02T03:04:05Z");
    expect(timestampToRFC3339("2026-01-02T03:04:05+00:00")).toBe("2026-01-02T03:04:05Z");
    expect(timestampToRFC3339("2026-01-02T03:04:05+02:00")).toBe("2026-01-02T03:04:05+02:00");
  });
});
