// The source names a trigger asks WaitMatcher.wants() about before it calls release() (record and pubsub
// drive) are the names release() and a park key their rows on, and wants() answers to them: a trigger that
// asked otherwise would skip the release of every waiting run. No I/O.
import { describe, expect, it } from "vitest";
import { channelSource, recordSource, sourceName } from "../../../src/engine/park/keys.js";
import { WaitMatcher } from "../../../src/engine/park/match.js";
import { silentLogger } from "../../../src/log.js";
import { step } from "../fixtures/defs.js";
import { catalog, workflow } from "../triggers/helpers.js";

describe("wait sources", () => {
  it("names a record type's and a channel's source as the stored waits and events are keyed", () => {
    // Keys of rows in skyflow.waits and wait_events: a run parked by an earlier version must still match.
    expect(recordSource("task")).toBe("record:task");
    expect(channelSource("ch")).toBe("pubsub:ch");
    expect(sourceName({ kind: "record", type: "task", database: "_public", events: ["create"] })).toBe(
      "record:task",
    );
    expect(sourceName({ kind: "pubsub", channel: "ch" })).toBe("pubsub:ch");
  });

  it("wants the sources a wait_for names, by the names the triggers ask with, and no others", () => {
    const waiting = {
      ...workflow("waiting", []),
      steps: [
        step("wait_for", { record: { type: "task" }, match: "true" }),
        step("wait_for", { pubsub: { channel: "ch" }, match: "true" }),
      ],
    };
    const m = new WaitMatcher({
      catalog: catalog([waiting]),
      env: {},
      log: silentLogger(),
      clock: () => new Date(),
    });
    expect(m.wants(recordSource("task"))).toBe(true);
    expect(m.wants(channelSource("ch"))).toBe(true);
    expect(m.wants(recordSource("note"))).toBe(false);
    expect(m.wants(channelSource("other"))).toBe(false);
    expect(m.wants(recordSource("ch"))).toBe(false);
  });
});
