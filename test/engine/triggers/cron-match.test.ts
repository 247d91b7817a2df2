// Pure cron arithmetic: fire times through croner, and which due times fire per catch_up.
import { describe, expect, it } from "vitest";
import { cronEvent, planFires } from "../../../src/engine/triggers/cron/match.js";
import { nextFire } from "../../../src/engine/triggers/cron/parse.js";

const d = (s: string) => new Date(s);

describe("cron fire times", () => {
  it("reads 5 fields minute-first in the given timezone", () => {
    // 09:00 in Hong Kong is 01:00 UTC.
    expect(nextFire("0 9 * * *", "Asia/Hong_Kong", d("2026-03-01T00:00:00Z"))?.toISOString()).toBe(
      "2026-03-01T01:00:00.000Z",
    );
  });
  it("reads 6 fields seconds-first and @hourly", () => {
    expect(nextFire("30 * * * * *", "UTC", d("2026-03-01T00:00:00Z"))?.toISOString()).toBe(
      "2026-03-01T00:00:30.000Z",
    );
    expect(nextFire("@hourly", "UTC", d("2026-03-01T00:10:00Z"))?.toISOString()).toBe(
      "2026-03-01T01:00:00.000Z",
    );
  });
  it("rejects a pattern with the wrong number of fields", () => {
    expect(() => nextFire("* * *", "UTC", new Date())).toThrow();
  });
});

describe("planFires", () => {
  const hourly = { schedule: "0 * * * *", timezone: "UTC" };
  const now = d("2026-03-01T13:45:00Z");
  const nextAt = d("2026-03-01T10:00:00Z");

  it("catch_up none skips every missed time and stores the next future one", () => {
    const p = planFires({ ...hourly, catchUp: "none" }, nextAt, now);
    expect(p.fires).toEqual([]);
    expect(p.skipped).toBe(4);
    expect(p.next?.toISOString()).toBe("2026-03-01T14:00:00.000Z");
  });
  it("catch_up last fires only the most recent missed time", () => {
    const p = planFires({ ...hourly, catchUp: "last" }, nextAt, now);
    expect(p.fires.map((f) => f.toISOString())).toEqual(["2026-03-01T13:00:00.000Z"]);
  });
  it("catch_up all fires every missed time, bounded", () => {
    expect(planFires({ ...hourly, catchUp: "all" }, nextAt, now).fires).toHaveLength(4);
    const bounded = planFires({ ...hourly, catchUp: "all" }, nextAt, now, { maxCatchUp: 2 });
    expect(bounded.fires.map((f) => f.toISOString())).toEqual([
      "2026-03-01T12:00:00.000Z",
      "2026-03-01T13:00:00.000Z",
    ]);
    expect(bounded.skipped).toBe(2);
  });
  it("fires a slightly late time as on time whatever catch_up says", () => {
    const p = planFires(
      { ...hourly, catchUp: "none" },
      d("2026-03-01T14:00:00Z"),
      d("2026-03-01T14:00:00.040Z"),
    );
    expect(p.fires.map((f) => f.toISOString())).toEqual(["2026-03-01T14:00:00.000Z"]);
  });
  it("limits the grace to one period for a per-second schedule", () => {
    const s = { schedule: "* * * * * *", timezone: "UTC", catchUp: "none" as const };
    const p = planFires(s, d("2026-03-01T00:00:00Z"), d("2026-03-01T00:00:05.5Z"));
    expect(p.fires.map((f) => f.toISOString())).toEqual(["2026-03-01T00:00:05.000Z"]);
    expect(p.next?.toISOString()).toBe("2026-03-01T00:00:06.000Z");
  });
  it("jumps ahead over a very long outage instead of listing every time", () => {
    const s = { schedule: "* * * * * *", timezone: "UTC", catchUp: "last" as const };
    const p = planFires(s, d("2026-03-01T00:00:00Z"), d("2026-03-03T00:00:00.5Z"));
    expect(p.fires.at(-1)?.toISOString()).toBe("2026-03-03T00:00:00.000Z");
    expect(p.next?.toISOString()).toBe("2026-03-03T00:00:01.000Z");
  });
  it("names the event after the workflow and the fire time", () => {
    const e = cronEvent("nightly", hourly, d("2026-03-01T13:00:00Z"), now);
    expect(e).toEqual({
      id: "nightly@2026-03-01T13:00:00.000Z",
      type: "cron",
      at: "2026-03-01T13:45:00.000Z",
      scheduled_at: "2026-03-01T13:00:00.000Z",
      schedule: "0 * * * *",
      timezone: "UTC",
    });
  });
});
