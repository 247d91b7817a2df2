// The step kinds by name: the engine knows steps only through this table. Adding a kind is one file and
// one line here.
import { action } from "./action.js";
import { deleteStep } from "./delete.js";
import { call, sleep, waitFor } from "./park.js";
import { publish } from "./publish.js";
import { push } from "./push.js";
import { query } from "./query.js";
import { save } from "./save.js";
import { sql } from "./sql.js";
import type { StepKind } from "./types.js";

export const stepKinds: Record<string, StepKind> = {
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
} as Record<string, StepKind>;
