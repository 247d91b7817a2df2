// The size of a record:query, checked before any database work (issue 20): how deep the predicate's
// `and`/`or`/`not` nest and how long each `in` list is. A predicate past either answers RecordQueryInvalid
// (120, HTTP 400), naming the setting. Iterative, whatever the nesting. No I/O.
import type { ServerLimits } from "../limits.js";
import { queryInvalid } from "./predicate.js";

const COMPOUND = new Set(["and", "or", "not"]);

export function checkPredicateSize(predicate: unknown, limits: ServerLimits): void {
  const stack: [unknown, number][] = [[predicate, 0]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    if (!Array.isArray(node) || typeof node[0] !== "string") continue;
    const op = node[0];
    if (COMPOUND.has(op)) {
      if (depth + 1 > limits.predicateDepth) {
        throw queryInvalid(
          `the predicate nests and/or/not deeper than ${limits.predicateDepth} levels (SKYFLOW_MAX_PREDICATE_DEPTH)`,
        );
      }
      for (let i = 1; i < node.length; i++) stack.push([node[i], depth + 1]);
    } else if (op === "in") {
      for (const operand of node.slice(1)) {
        if (Array.isArray(operand) && operand[0] !== "func" && operand.length > limits.inList) {
          throw queryInvalid(
            `an "in" list holds ${operand.length} values; at most ${limits.inList} are accepted (SKYFLOW_MAX_IN_LIST)`,
          );
        }
      }
    }
  }
}
