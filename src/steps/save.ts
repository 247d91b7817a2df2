// The `save` step: record:save of one record or several (atomic on request), optionally as a user. A
// per-record error from the server fails the step with that error (the client raises it).
import type { StepInput } from "../engine/definition/schema.js";
import { FatalStepError } from "../errors.js";
import type { RecordJSON } from "../skygear/types.js";
import { actingAs } from "./common.js";
import type { StepKind } from "./types.js";

export const save: StepKind<StepInput<"save">, { record: RecordJSON } | { records: RecordJSON[] }> = {
  kind: "save",
  async run(ctx) {
    const b = ctx.input;
    const many = b.records != null;
    const list = b.records ?? [b.record];
    if (list.length === 0 || !list.every(isRecord)) {
      throw new FatalStepError("InvalidArgument", "save: each record needs an _id of the form type/key");
    }
    const client = actingAs(ctx.clients.skygear, b.as);
    const saved = await client.save(
      list,
      { databaseId: b.database || "_public", atomic: b.atomic === true },
      { signal: ctx.signal },
    );
    return many ? { records: saved } : { record: saved[0]! };
  },
};

function isRecord(v: Record<string, unknown> | null | undefined): v is RecordJSON {
  return v != null && typeof v._id === "string" && v._id.includes("/");
}
