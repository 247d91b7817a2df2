// Checks a decoded request body (or pubsub frame) once, before any action sees it: how deep it nests, and
// that every string and key is text Postgres can store (no NUL, no lone UTF-16 surrogate) and every number
// finite. Iterative, so a body nested 100,000 deep is refused instead of overflowing the stack. No I/O.
import { SkygearServerError } from "./errors.js";

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

interface Node {
  value: unknown;
  depth: number;
  parent: Node | null;
  key: string | number;
}

/** `records[0].title`, for messages; the path of the body itself is "". */
function pathOf(node: Node): string {
  const parts: string[] = [];
  for (let n: Node | null = node; n?.parent; n = n.parent) {
    parts.push(typeof n.key === "number" ? `[${n.key}]` : `.${n.key}`);
  }
  return parts.reverse().join("").replace(/^\./, "");
}

/** The top-level key a node sits under: what v1's `info.arguments` names. */
function argumentOf(node: Node): string {
  let n = node;
  while (n.parent?.parent) n = n.parent;
  return String(n.key);
}

/** Why a string cannot be stored, or undefined when it can. */
export function badText(s: string): string | undefined {
  if (s.includes("\u0000")) return "contains a NUL character (U+0000)";
  if (LONE_SURROGATE.test(s)) return "contains an unpaired UTF-16 surrogate";
  return undefined;
}

function refuse(node: Node, what: string, why: string): SkygearServerError {
  const path = pathOf(node);
  const where = path === "" ? "the request" : path;
  return new SkygearServerError("InvalidArgument", `${what} at ${where} ${why}`, {
    info: { arguments: [argumentOf(node)] },
  });
}

/**
 * Throws InvalidArgument (108) for a NUL or lone surrogate in any string or key, or nesting deeper than
 * `maxDepth` (the body itself is depth 0); BadRequest (107) for a number JSON cannot carry (1e400 decodes
 * to Infinity; v1's decoder refuses it as invalid JSON).
 */
export function guardBody(body: unknown, maxDepth: number): void {
  const stack: Node[] = [{ value: body, depth: 0, parent: null, key: "" }];
  while (stack.length > 0) {
    const node = stack.pop()!;
    const v = node.value;
    if (typeof v === "string") {
      const why = badText(v);
      if (why) throw refuse(node, "the string", why);
    } else if (typeof v === "number") {
      if (!Number.isFinite(v)) {
        throw new SkygearServerError("BadRequest", `the number at ${pathOf(node)} is out of range`);
      }
    } else if (typeof v === "object" && v !== null) {
      if (node.depth >= maxDepth) {
        throw refuse(node, "the value", `nests deeper than ${maxDepth} levels`);
      }
      const depth = node.depth + 1;
      if (Array.isArray(v)) {
        for (let i = v.length - 1; i >= 0; i--) stack.push({ value: v[i], depth, parent: node, key: i });
      } else {
        for (const [key, value] of Object.entries(v)) {
          const child = { value, depth, parent: node, key };
          const why = badText(key);
          if (why) throw refuse(child, "the key", why);
          stack.push(child);
        }
      }
    }
  }
}

/** How deep `value` nests (a scalar is 0), counted without recursion and stopping once past `cap`. */
export function nestingDepth(value: unknown, cap: number): number {
  let max = 0;
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [v, d] = stack.pop()!;
    if (typeof v !== "object" || v === null) continue;
    if (d + 1 > max) max = d + 1;
    if (max > cap) return max;
    for (const child of Array.isArray(v) ? v : Object.values(v)) stack.push([child, d + 1]);
  }
  return max;
}
