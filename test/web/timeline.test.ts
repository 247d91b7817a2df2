// The run timeline's layout from a literal step tree (as the runs API sends it): foreach items and parallel
// branches nest with their inner steps, groups span their children and take their worst status, long item
// lists are cut until expanded, bars sit by start offset and duration.
import { describe, expect, it } from "vitest";
import {
  buildRows,
  ITEMS_SHOWN,
  type NodeLike,
  place,
  runWindow,
  type TryLike,
} from "../../web/src/timeline.js";

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

const step = (key: string, tries: TryLike[], children: NodeLike[] = []): NodeLike => ({
  label: key
    .split(".")
    .at(-1)!
    .replace(/\[\d+\]$/, ""),
  kind: "step",
  key,
  tries,
  children,
});
const group = (kind: "item" | "branch", label: string, children: NodeLike[]): NodeLike => ({
  label,
  kind,
  tries: [],
  children,
});

describe("timeline rows", () => {
  it("lays out inner steps under their foreach item and parallel branch, which span their steps", () => {
    const rows = buildRows(
      [
        step("load", [t("load", 0, 10)]),
        step(
          "remind",
          [t("remind", 10, 90)],
          [
            group("item", "[2]", [
              step("remind[2].tell", [
                t("remind[2].tell", 30, 40, "succeeded", 2),
                t("remind[2].tell", 20, 30, "failed"),
              ]),
            ]),
            group("item", "[10]", [step("remind[10].tell", [t("remind[10].tell", 50, 60)])]),
          ],
        ),
        step(
          "fan",
          [t("fan", 90, 99)],
          [group("branch", "audit", [step("fan.audit.log", [t("fan.audit.log", 95, 99)])])],
        ),
      ],
      1000,
    );
    expect(
      rows.map((r) => `${"  ".repeat(r.depth)}${r.kind} ${r.label}${r.group ? " (group)" : ""}: ${r.status}`),
    ).toEqual([
      "step load: succeeded",
      "step remind: succeeded",
      "  item [2] (group): succeeded",
      "    step tell: succeeded",
      "  item [10] (group): succeeded",
      "    step tell: succeeded",
      "step fan: succeeded",
      "  branch audit (group): succeeded",
      "    step log: succeeded",
    ]);
    expect(rows.map((r) => r.key)).toContain("remind[2]");
    expect(rows.map((r) => r.key)).toContain("fan.audit");
    const item2 = rows.find((r) => r.key === "remind[2].tell")!;
    expect(item2.tries.map((x) => x.attempt)).toEqual([1, 2]);
    expect(rows.find((r) => r.key === "remind[2]")).toMatchObject({
      start: Date.parse(at(20)),
      end: Date.parse(at(40)),
    });
  });

  it("gives a group the worst status beneath it and lets a running try grow to now", () => {
    const now = Date.parse(at(500));
    const fan = (a: string) =>
      buildRows(
        [
          group("branch", "a", [step("fan.a.x", [t("fan.a.x", 0, 10, a)])]),
          group("branch", "b", [step("fan.b.y", [t("fan.b.y", 0, null, "running")])]),
        ],
        now,
      );
    expect(fan("succeeded")[2]).toMatchObject({ key: "b", status: "running", end: now });
    expect(fan("failed")[0]!.status).toBe("failed");
  });

  it("shows the first items and every one that did not succeed, the rest counted until expanded", () => {
    const items = Array.from({ length: ITEMS_SHOWN + 30 }, (_, i) =>
      group("item", `[${i}]`, [
        step(`each[${i}].x`, [t(`each[${i}].x`, i, i + 1, i === ITEMS_SHOWN + 7 ? "failed" : "succeeded")]),
      ]),
    );
    const rows = buildRows([step("each", [t("each", 0, 100, "failed")], items)], 1000);
    const shown = rows.filter((r) => r.kind === "item").map((r) => r.label);
    expect(shown).toHaveLength(ITEMS_SHOWN + 1);
    expect(shown).toContain(`[${ITEMS_SHOWN + 7}]`);
    expect(rows.at(-1)).toMatchObject({ kind: "more", hidden: 29, parent: "each", label: "29 more items" });
    const all = buildRows([step("each", [t("each", 0, 100)], items)], 1000, new Set(["each"]));
    expect(all.filter((r) => r.kind === "item")).toHaveLength(ITEMS_SHOWN + 30);
    expect(all.some((r) => r.kind === "more")).toBe(false);
  });

  it("places bars by start offset and duration within the run's window", () => {
    const rows = buildRows([step("a", [t("a", 100, 200)]), step("b", [t("b", 200, 300)])], 0);
    const win = runWindow(rows, at(100), 0);
    expect(place(Date.parse(at(200)), Date.parse(at(300)), win)).toEqual({ left: 50, width: 50 });
    // Too short to see: still a sliver.
    expect(place(Date.parse(at(150)), Date.parse(at(150)), win).width).toBe(0.5);
  });
});
