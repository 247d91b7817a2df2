// actingAs (who a step's call is made as) over every value an `as:` can resolve to, fuzzed: a value from an
// expression (the loader writes it as `user/<value>`) never reaches the master key without a user.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { resolveTemplate } from "../../src/engine/definition/expressions.js";
import { loadWorkflowSource } from "../../src/engine/definition/load.js";
import type { ExprContext } from "../../src/engine/definition/types.js";
import type { SkygearClient } from "../../src/skygear/types.js";
import { actingAs } from "../../src/steps/common.js";

/** A client that says which identity was asked for. */
function recorder() {
  const calls: string[] = [];
  const c = {
    asUser: (id: string) => {
      calls.push(`user:${id}`);
      return c;
    },
    asMaster: () => {
      calls.push("master");
      return c;
    },
  };
  return { client: c as unknown as SkygearClient, calls };
}

const step = loadWorkflowSource(
  "w.yaml",
  'on: { pubsub: { channel: c } }\nsteps:\n  - query: { type: t, as: "${{ event.data.who }}" }\n',
).workflow!.steps[0]!;

function resolvedAs(who: unknown): unknown {
  const ctx: ExprContext = {
    event: { id: "e", type: "pubsub", at: "2026-01-01T00:00:00Z", data: { who } },
    steps: {},
    run: { id: "r", workflow: "w", attempt: 1, started_at: "2026-01-01T00:00:00Z" },
    env: {},
    now: new Date(0),
    uuidSeed: "r:s",
  };
  return (resolveTemplate(step.input, ctx) as { as?: unknown }).as;
}

describe("actingAs", () => {
  it("never acts as master for a value an expression gave, whatever the value", () => {
    const who = fc.oneof(
      fc.constantFrom("master", "MASTER", " master", "user/master", "user/user/master", "", null, "user/"),
      fc.jsonValue({ maxDepth: 2 }),
      fc.string(),
    );
    fc.assert(
      fc.property(who, (w) => {
        const r = recorder();
        try {
          actingAs(r.client, resolvedAs(w));
        } catch (err) {
          expect((err as { errorName?: string }).errorName).toBe("InvalidArgument");
        }
        expect(r.calls).not.toContain("master");
      }),
      { seed: 20_26, numRuns: Number(process.env.FUZZ_RUNS ?? 500) },
    );
  });

  it("acts as master only for the literal, and with the API key for none", () => {
    const r = recorder();
    expect(actingAs(r.client, undefined)).toBe(r.client);
    expect(actingAs(r.client, null)).toBe(r.client);
    actingAs(r.client, "master");
    actingAs(r.client, "user/user/alice");
    expect(r.calls).toEqual(["master", "user:alice"]);
  });
});
