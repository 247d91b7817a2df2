// The size of a record:query, checked before any database work (issue 20): how deep the predicate's
// `and`/`or`/`not` nest, how long each `in` list is, and how many terms the predicate, sort, include and
// desired_keys hold (Postgres plans thousands of ANDed equalities in quadratic time: 60,000 took 42 s).
// Past a limit: RecordQueryInvalid (120, HTTP 400), or 108 for desired_keys, naming the setting. No I/O.
import { SkygearServerError } from "../errors.js";
import type { ServerLimits } from "../limits.js";
import { queryInvalid } from "./predicate.js";

const COMPOUND = new Set(["and", "or", "not"]);

export function checkQuerySize(payload: Record<string, unknown>, limits: ServerLimits): void {
  checkPredicateSize(payload.predicate, limits);
  const max = limits.queryTerms;
  const tooMany = (what: string, n: number) =>
    `${what} holds ${n} entries; at most ${max} are accepted (SKYFLOW_MAX_QUERY_TERMS)`;
  if (Array.isArray(payload.sort) && payload.sort.length > max) {
    throw queryInvalid(tooMany("sort", payload.sort.length));
  }
  const include = payload.include;
  if (typeof include === "object" && include !== null && Object.keys(include).length > max) {
    throw queryInvalid(tooMany("include", Object.keys(include).length));
  }
  if (Array.isArray(payload.desired_keys) && payload.desired_keys.length > max) {
    throw new SkygearServerError("InvalidArgument", tooMany("desired_keys", payload.desired_keys.length), {
      info: { arguments: ["desired_keys"] },
    });
  }
}

/** Nesting depth, `in` list lengths and the number of comparisons; iterative, whatever the nesting. */
export function checkPredicateSize(predicate: unknown, limits: ServerLimits): void {
  const stack: [unknown, number][] = [[predicate, 0]];
  let terms = 0;
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
      continue;
    }
    if (++terms > limits.queryTerms) {
      throw queryInvalid(
        `the predicate holds more than ${limits.queryTerms} comparisons (SKYFLOW_MAX_QUERY_TERMS)`,
      );
    }
    if (op === "in") {
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
