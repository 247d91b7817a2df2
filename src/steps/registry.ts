// The step kinds by name: the engine knows steps only through this table. Adding a kind is one file and
// one line here. Each kind is written against its resolved input type; the table checks a try's input
// against the kind's schema (RUN_KINDS) once, before its run, so no kind checks shapes itself.
import { checkValue } from "../engine/definition/check-schema.js";
import { type LeafKindName, RUN_KINDS, type StepInput } from "../engine/definition/schema.js";
import { FatalStepError } from "../errors.js";
import { action } from "./action.js";
import { deleteStep } from "./delete.js";
import { call, sleep, waitFor } from "./park.js";
import { publish } from "./publish.js";
import { push } from "./push.js";
import { query } from "./query.js";
import { save } from "./save.js";
import { sql } from "./sql.js";
import type { StepKind } from "./types.js";

/** The kind as the engine holds it: its input is whatever the step's expressions gave, checked here. */
function checked<K extends LeafKindName, O>(name: K, kind: StepKind<StepInput<K>, O>): StepKind {
  const schema = RUN_KINDS[name];
  return {
    ...kind,
    run(ctx) {
      const input = checkValue(schema, ctx.input, name);
      if (!input.ok) {
        const text = input.problems.map((p) => `${p.path}: ${p.message}`).join("; ");
        return Promise.reject(new FatalStepError("InvalidArgument", text));
      }
      return kind.run({ ...ctx, input: input.value });
    },
  };
}

export const stepKinds: Record<string, StepKind> = {
  query: checked("query", query),
  save: checked("save", save),
  delete: checked("delete", deleteStep),
  sql: checked("sql", sql),
  publish: checked("publish", publish),
  push: checked("push", push),
  action: checked("action", action),
  sleep: checked("sleep", sleep),
  wait_for: checked("wait_for", waitFor),
  call: checked("call", call),
};
