// The `action` step: any Skygear action through sendAction, optionally as a user; an error answer fails
// the step with that error.
import type { StepInput } from "../engine/definition/schema.js";
import { actingAs } from "./common.js";
import type { StepKind } from "./types.js";

export const action: StepKind<StepInput<"action">, { result: unknown }> = {
  kind: "action",
  async run(ctx) {
    const b = ctx.input;
    const client = actingAs(ctx.clients.skygear, b.as);
    return { result: await client.sendAction(b.name, b.params ?? {}, { signal: ctx.signal }) };
  },
};
