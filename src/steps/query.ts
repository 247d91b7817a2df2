// The `query` step: record:query with the short where/sort forms, optionally as a user.
import { FatalStepError } from "../errors.js";
import { actingAs, asMap, isMapValue, optString } from "./common.js";
import { toPredicate, toSort, whereProblems } from "./predicate.js";
import type { BlockProblem, StepKind } from "./types.js";

export const query: StepKind<unknown, { records: unknown[]; count?: number }> = {
  kind: "query",
  parse(block) {
    if (!isMapValue(block)) return [];
    const out: BlockProblem[] = whereProblems(block.where);
    if (block.type === undefined) out.push({ path: ["type"], message: "query needs a record type" });
    return out;
  },
  async run(ctx) {
    const b = asMap(ctx.input, "query");
    const recordType = optString(b.type, "query.type");
    if (!recordType) throw new FatalStepError("InvalidArgument", "query.type: a record type is required");
    const client = actingAs(ctx.clients.skygear, b.as);
    const r = await client.query(
      {
        recordType,
        databaseId: optString(b.database, "query.database") ?? "_public",
        predicate: toPredicate(b.where),
        sort: toSort(b.sort),
        limit: num(b.limit, "limit"),
        offset: num(b.offset, "offset"),
        count: b.count === true ? true : undefined,
      },
      { signal: ctx.signal },
    );
    return b.count === true ? { records: r.records, count: r.count ?? 0 } : { records: r.records };
  },
};

function num(v: unknown, what: string): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "number" || !Number.isFinite(v) || v < 0) {
    throw new FatalStepError("InvalidArgument", `query.${what}: expected a number of zero or more`);
  }
  return Math.floor(v);
}
