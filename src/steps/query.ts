// The `query` step: record:query with the short where/sort forms, optionally as a user.
import type { StepInput } from "../engine/definition/schema.js";
import { actingAs } from "./common.js";
import { toPredicate, toSort } from "./predicate.js";
import type { StepKind } from "./types.js";

export const query: StepKind<StepInput<"query">, { records: unknown[]; count?: number }> = {
  kind: "query",
  async run(ctx) {
    const b = ctx.input;
    const client = actingAs(ctx.clients.skygear, b.as);
    const r = await client.query(
      {
        recordType: b.type,
        databaseId: b.database || "_public",
        predicate: toPredicate(b.where),
        sort: toSort(b.sort),
        limit: whole(b.limit),
        offset: whole(b.offset),
        count: b.count === true ? true : undefined,
      },
      { signal: ctx.signal },
    );
    return b.count === true ? { records: r.records, count: r.count ?? 0 } : { records: r.records };
  },
};

const whole = (n: number | null | undefined) => (n == null ? undefined : Math.floor(n));
