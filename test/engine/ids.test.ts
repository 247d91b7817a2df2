// Derived identifiers: version-5 UUIDs in skyflow's namespace (checked against Python's uuid.uuid5), and the
// legacy derivation kept, value for value, for runs whose ids predate them. Pure.
import { v4, v5, v7, validate, version } from "uuid";
import { describe, expect, it } from "vitest";
import {
  isLegacyRunId,
  legacyRunIdFor,
  runIdFor,
  SKYFLOW_NAMESPACE,
  stepUuid,
} from "../../src/engine/ids.js";

const EVENT = "task/1:create:7.0";

describe("derived ids", () => {
  it("makes run ids and uuid() values as RFC 9562 version-5 UUIDs in skyflow's namespace", () => {
    // python3: uuid.uuid5(UUID("6a026edd-b007-4530-bf20-7dd1c323eac6"), "run\0review-task\0task/1:create:7.0")
    const id = runIdFor("review-task", EVENT);
    expect(id).toBe("3e91719d-22b9-52e2-939c-bd4074a1b6ef");
    expect(stepUuid(id, `${id}:review`, 0)).toBe("818db6e2-bd98-508c-ba5b-719f24ea0982");
    expect(stepUuid(id, `${id}:review`, 1)).not.toBe(stepUuid(id, `${id}:review`, 0));
    expect(isLegacyRunId(id)).toBe(false);
  });

  it("gives uuid's v5 values for any workflow and event id, multi-byte characters included", () => {
    for (const [wf, ev] of [
      ["a", ""],
      ["review-task", "task/ü:create:1.5"],
      ["wf", "\u{1F600}".repeat(40)],
      ["x".repeat(300), "e\u0000f"],
    ] as const) {
      expect(runIdFor(wf, ev)).toBe(v5(`run\u0000${wf}\u0000${ev}`, SKYFLOW_NAMESPACE));
      expect(stepUuid(runIdFor(wf, ev), `${ev}:s`, 3)).toBe(
        v5(`uuid\u0000${ev}:s\u00003`, SKYFLOW_NAMESPACE),
      );
    }
  });

  it("gives uuid's v5 values for names of every length around SHA-1's 64-byte blocks", () => {
    // The namespace's 16 bytes and "run\0wf\0" come first: lengths 0-200 of the event id cross 1 to 4 blocks,
    // every padding case included; a multi-byte character moves the boundary within a character.
    for (let n = 0; n <= 200; n++) {
      const ev = "e".repeat(n);
      expect(runIdFor("wf", ev)).toBe(v5(`run\u0000wf\u0000${ev}`, SKYFLOW_NAMESPACE));
      const wide = `${"é".repeat(n % 37)}${"\u{1F600}".repeat(n % 11)}${n}`;
      expect(runIdFor("wf", wide)).toBe(v5(`run\u0000wf\u0000${wide}`, SKYFLOW_NAMESPACE));
    }
    // A name longer than any before: the buffer grows, and the ids after it are still right.
    expect(runIdFor("wf", "z".repeat(5000))).toBe(
      v5(`run\u0000wf\u0000${"z".repeat(5000)}`, SKYFLOW_NAMESPACE),
    );
    expect(runIdFor("review-task", EVENT)).toBe("3e91719d-22b9-52e2-939c-bd4074a1b6ef");
  });

  it("keeps the values of the SHA-256 derivation for a run whose id was made by it", () => {
    // The values the code before version 5 gave (its deterministicUuid and runIdFor).
    const legacy = legacyRunIdFor("review-task", EVENT);
    expect(legacy).toBe("584995c9-1a14-47be-89fd-87d58599638c");
    expect(isLegacyRunId(legacy)).toBe(true);
    expect(stepUuid(legacy, `${legacy}:review`, 0)).toBe("afd40a81-6f6b-44eb-bf17-cb948ed0ce53");
  });

  it("derives uuid() for a run with no id yet (a trigger's when, a concurrency key) the new way", () => {
    expect(stepUuid("", "ev-1:concurrency", 0)).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-/);
  });

  it("tells a legacy run id as uuid's validate and version do", () => {
    const ids = [
      legacyRunIdFor("review-task", EVENT),
      runIdFor("review-task", EVENT),
      v4(),
      v4().toUpperCase(),
      v7(),
      "00000000-0000-0000-0000-000000000000",
      "ffffffff-ffff-ffff-ffff-ffffffffffff",
      "584995c9-1a14-47be-79fd-87d58599638c",
      "584995c9-1a14-47be-c9fd-87d58599638c",
      "584995c9-1a14-47be-89fd-87d58599638c\n",
      " 584995c9-1a14-47be-89fd-87d58599638c",
      "584995c91a1447be89fd87d58599638c",
      "584995c9-1a14-47be-89fd-87d58599638",
      "g84995c9-1a14-47be-89fd-87d58599638c",
      "",
      "run-1",
    ];
    for (const id of ids) expect(isLegacyRunId(id), id).toBe(validate(id) && version(id) === 4);
  });
});
