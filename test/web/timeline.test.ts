// The run timeline's layout from literal tries: key paths nest generically (foreach items, parallel
// branches), items sort by index, groups span their children, bars sit by start offset and duration.
import { describe, expect, it } from "vitest";
import { buildRows, parseKey, place, runWindow, type TryLike } from "../../web/src/timeline.js";

const at = (ms: number) => new Date(Date.UTC(2026, 0, 1) + ms).toISOString();
const t = (stepKey: string, from: number, to: number | null, status = "succeeded", attempt = 1): TryLike => ({
  stepKey,
  kind: "k",
  attempt,
  runAttempt: 1,
  status,
  startedAt: at(from),
  finishedAt: to === null ? null : at(to),
});

describe("timeline rows", () => {
  it("splits key paths into steps, branches and items", () => {
    expect(parseKey("notify")).toEqual(["notify"]);
    expect(parseKey("remind[3].tell")).toEqual(["remind", "[3]", "tell"]);
    expect(parseKey("fan.audit.log")).toEqual(["fan", "audit", "log"]);
  });

  it("nests inner steps under their foreach item and parallel branch, making rows for parents without tries", () => {
    const rows = buildRows(
      [
        t("load", 0, 10),
        t("remind", 10, 90),
        t("remind[10].tell", 50, 60),
        t("remind[2].tell", 20, 30, "failed"),
        t("remind[2].tell", 30, 40, "succeeded", 2),
        t("fan.audit.log", 95, 99),
      ],
      1000,
    );
    expect(
      rows.map((r) => `${"  ".repeat(r.depth)}${r.label}${r.group ? " (group)" : ""}: ${r.status}`),
    ).toEqual([
      "load: succeeded",
      "remind: succeeded",
      "  [2] (group): succeeded",
      "    tell: succeeded",
      "  [10] (group): succeeded",
      "    tell: succeeded",
      "fan (group): succeeded",
      "  audit (group): succeeded",
      "    log: succeeded",
    ]);
    const item2 = rows.find((r) => r.key === "remind[2].tell")!;
    expect(item2.tries.map((x) => x.attempt)).toEqual([1, 2]);
    expect(rows.find((r) => r.key === "remind[2]")).toMatchObject({
      start: Date.parse(at(20)),
      end: Date.parse(at(40)),
    });
  });

  it("gives a group the worst status beneath it and lets a running try grow to now", () => {
    const now = Date.parse(at(500));
    const rows = buildRows([t("fan.a.x", 0, 10), t("fan.b.y", 0, null, "running")], now);
    expect(rows[0]).toMatchObject({ key: "fan", status: "running", end: now });
    const failed = buildRows([t("fan.a.x", 0, 10, "failed"), t("fan.b.y", 0, null, "running")], now);
    expect(failed[0]!.status).toBe("failed");
  });

  it("places bars by start offset and duration within the run's window", () => {
    const rows = buildRows([t("a", 100, 200), t("b", 200, 300)], 0);
    const win = runWindow(rows, at(100), 0);
    expect(place(Date.parse(at(200)), Date.parse(at(300)), win)).toEqual({ left: 50, width: 50 });
    // Too short to see: still a sliver.
    expect(place(Date.parse(at(150)), Date.parse(at(150)), win).width).toBe(0.5);
  });
});
