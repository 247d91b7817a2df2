// The step kinds as the engine runs them: the registry's table (src/steps/registry.ts), each kind's input
// checked once against its `run` schema (the one typebox schema, definition/schema.ts) before its run, so
// no kind checks shapes itself. No I/O.
import { FatalStepError } from "../errors.js";
import { builtinKinds } from "../steps/registry.js";
import type { StepKind } from "../steps/types.js";
import { checkValue } from "./definition/check-schema.js";
import { type LeafKindName, RUN_KINDS } from "./definition/schema.js";

/** The kind as the engine holds it: its input is whatever the step's expressions gave, checked here. */
function checked(name: LeafKindName, kind: StepKind<never, unknown>): StepKind {
  const schema = RUN_KINDS[name];
  return {
    ...kind,
    run(ctx) {
      const input = checkValue(schema, ctx.input, name);
      if (!input.ok) {
        const text = input.problems.map((p) => `${p.path}: ${p.message}`).join("; ");
        return Promise.reject(new FatalStepError("InvalidArgument", text));
      }
      return kind.run({ ...ctx, input: input.value as never });
    },
  };
}

/** The built-in step kinds by name, their inputs checked. */
export const stepKinds: Record<string, StepKind> = Object.fromEntries(
  (Object.keys(builtinKinds) as LeafKindName[]).map((name) => [name, checked(name, builtinKinds[name])]),
);
