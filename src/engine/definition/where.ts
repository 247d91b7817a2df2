// Static check of a query's `where` in the short map form: keys are fields, plain values mean eq, an object
// names operators; `or:`/`and:` take lists and `not:` a nested form. A raw predicate array passes as is. No I/O.

import { OPERATORS } from "../../steps/predicate.js";
import type { RawProblem } from "./check-schema.js";
import { nearest } from "./nearest.js";
import { joinPath } from "./template.js";

/** The query step's operators (the one list: src/steps/predicate.ts). */
const WHERE_OPERATORS: readonly string[] = OPERATORS;

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === "object" && !Array.isArray(v);

/** Problems of a short-form `where` at `path`; arrays (raw predicates) and expressions are not checked. */
export function checkWhere(where: unknown, path: string, out: RawProblem[]): void {
  if (!isObj(where)) return;
  for (const [key, value] of Object.entries(where)) {
    const p = joinPath(path, key);
    if (key === "or" || key === "and") {
      if (!Array.isArray(value)) out.push({ path: p, message: `${key} takes a list of conditions` });
      else
        value.forEach((x, i) => {
          checkNested(x, `${p}[${i}]`, out);
        });
    } else if (key === "not") {
      checkNested(value, p, out);
    } else if (isObj(value) && !isTypedValue(value)) {
      checkOperators(value, p, out);
    }
  }
}

function checkNested(v: unknown, path: string, out: RawProblem[]): void {
  if (isObj(v)) checkWhere(v, path, out);
  else out.push({ path, message: "expected a mapping of conditions" });
}

/** Skygear typed values (`{$type: ref, $id: ...}`) compare with eq. */
function isTypedValue(v: Obj): boolean {
  return Object.keys(v).some((k) => k.startsWith("$"));
}

function checkOperators(ops: Obj, path: string, out: RawProblem[]): void {
  for (const [op, value] of Object.entries(ops)) {
    if (!WHERE_OPERATORS.includes(op)) {
      const near = nearest(op, WHERE_OPERATORS);
      const hint = near ? ` (did you mean "${near}"?)` : `; operators: ${WHERE_OPERATORS.join(", ")}`;
      out.push({ path: joinPath(path, op), atKey: true, message: `unknown operator "${op}"${hint}` });
    } else if (
      op === "in" &&
      !Array.isArray(value) &&
      !(typeof value === "string" && value.includes("${{"))
    ) {
      out.push({ path: joinPath(path, op), message: "in takes a list (or an expression giving one)" });
    }
  }
}
