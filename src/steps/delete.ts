// The `delete` step: record:delete of the given ids (`type/key`), optionally as a user.
import type { StepInput } from "../engine/definition/schema.js";
import { FatalStepError } from "../errors.js";
import { SkygearError } from "../skygear/errors.js";
import { actingAs } from "./common.js";
import type { StepKind } from "./types.js";

export const deleteStep: StepKind<StepInput<"delete">, { deleted: string[] }> = {
  kind: "delete",
  async run(ctx) {
    const b = ctx.input;
    const ids = b.ids;
    if (ids.some((id) => !id.includes("/"))) {
      throw new FatalStepError("InvalidArgument", "delete.ids: each id has the form type/key");
    }
    if (ids.length === 0) return { deleted: [] };
    const client = actingAs(ctx.clients.skygear, b.as);
    try {
      const deleted = await client.delete(
        ids,
        { databaseId: b.database || "_public" },
        { signal: ctx.signal },
      );
      return { deleted };
    } catch (err) {
      // An earlier try may have deleted them and then failed (its answer lost, or a timeout after the server
      // acted): on a retry, records that are not there are deleted, so the step stays idempotent.
      if (ctx.attempt > 1 && onlyNotFound(err)) return { deleted: ids };
      throw err;
    }
  },
};

function onlyNotFound(err: unknown): boolean {
  if (!(err instanceof SkygearError)) return false;
  const errors = (err.info as { errors?: unknown } | undefined)?.errors;
  if (!Array.isArray(errors) || errors.length === 0) return err.errorName === "ResourceNotFound";
  return errors.every((e) => (e as { name?: unknown } | null)?.name === "ResourceNotFound");
}
