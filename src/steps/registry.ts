// The step kinds by name: the engine knows steps only through this table (src/engine/step-kinds.ts checks
// each try's input against the kind's schema before its run). Adding a kind is one file and one line here.
// Each kind is written against its resolved input type, StepInput of the one schema (a type, erased).
import type { LeafKindName, StepInput } from "../engine/definition/schema.js";
import { action } from "./action.js";
import { deleteStep } from "./delete.js";
import { call, sleep, waitFor } from "./park.js";
import { publish } from "./publish.js";
import { push } from "./push.js";
import { query } from "./query.js";
import { save } from "./save.js";
import { sql } from "./sql.js";
import type { StepKind } from "./types.js";

export const builtinKinds: { [K in LeafKindName]: StepKind<StepInput<K>, unknown> } = {
  query,
  save,
  delete: deleteStep,
  sql,
  publish,
  push,
  action,
  sleep,
  wait_for: waitFor,
  call,
};
