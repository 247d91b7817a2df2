// The `action` step: any Skygear action through sendAction, optionally as a user; an error answer fails
// the step with that error.
import { FatalStepError } from "../errors.js";
import { actingAs, asMap, isMapValue, optString } from "./common.js";
import type { StepKind } from "./types.js";

export const action: StepKind<unknown, { result: unknown }> = {
  kind: "action",
  parse(block) {
    if (isMapValue(block) && block.name === undefined)
      return [{ path: ["name"], message: "action needs a name" }];
    return [];
  },
  async run(ctx) {
    const b = asMap(ctx.input, "action");
    const name = optString(b.name, "action.name");
    if (!name) throw new FatalStepError("InvalidArgument", "action.name: an action name is required");
    const params = b.params === undefined || b.params === null ? {} : asMap(b.params, "action.params");
    const client = actingAs(ctx.clients.skygear, b.as);
    return { result: await client.sendAction(name, params, { signal: ctx.signal }) };
  },
};
