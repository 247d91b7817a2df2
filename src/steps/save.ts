// The `save` step: record:save of one record or several (atomic on request), optionally as a user. A
// per-record error from the server fails the step with that error (the client raises it).
import { FatalStepError } from "../errors.js";
import type { RecordJSON } from "../skygear/types.js";
import { actingAs, asMap, isMapValue, optString } from "./common.js";
import type { BlockProblem, StepKind } from "./types.js";

export const save: StepKind<unknown, { record: RecordJSON } | { records: RecordJSON[] }> = {
  kind: "save",
  parse(block) {
    if (!isMapValue(block)) return [];
    const out: BlockProblem[] = [];
    const has = (k: string) => block[k] !== undefined;
    if (has("record") === has("records")) {
      out.push({ path: [], message: "save needs exactly one of record or records" });
    }
    return out;
  },
  async run(ctx) {
    const b = asMap(ctx.input, "save");
    const many = b.records !== undefined;
    const list = many ? b.records : [b.record];
    if (!Array.isArray(list) || list.length === 0 || !list.every(isRecord)) {
      throw new FatalStepError("InvalidArgument", "save: each record needs an _id of the form type/key");
    }
    const client = actingAs(ctx.clients.skygear, b.as);
    const saved = await client.save(
      list,
      { databaseId: optString(b.database, "save.database") ?? "_public", atomic: b.atomic === true },
      { signal: ctx.signal },
    );
    return many ? { records: saved } : { record: saved[0]! };
  },
};

function isRecord(v: unknown): v is RecordJSON {
  return isMapValue(v) && typeof v._id === "string" && v._id.includes("/");
}
