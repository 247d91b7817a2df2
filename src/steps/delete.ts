// The `delete` step: record:delete of the given ids (`type/key`), optionally as a user.
import { FatalStepError } from "../errors.js";
import { actingAs, asMap, isMapValue, optString, stringList } from "./common.js";
import type { StepKind } from "./types.js";

export const deleteStep: StepKind<unknown, { deleted: string[] }> = {
  kind: "delete",
  parse(block) {
    if (isMapValue(block) && block.ids === undefined) return [{ path: ["ids"], message: "delete needs ids" }];
    return [];
  },
  async run(ctx) {
    const b = asMap(ctx.input, "delete");
    const ids = stringList(b.ids, "delete.ids");
    if (ids.some((id) => !id.includes("/"))) {
      throw new FatalStepError("InvalidArgument", "delete.ids: each id has the form type/key");
    }
    if (ids.length === 0) return { deleted: [] };
    const client = actingAs(ctx.clients.skygear, b.as);
    const deleted = await client.delete(
      ids,
      { databaseId: optString(b.database, "delete.database") ?? "_public" },
      { signal: ctx.signal },
    );
    return { deleted };
  },
};
