// The worst cases the load and evaluation bounds allow: workflow files at the size limit in the shapes that
// cost the YAML parser most, the largest alias expansion allowed, and hostile CEL expressions stopped by the
// evaluation budget. Prints the slowest of five tries of each: how long one reload or one evaluation can hold
// the event loop. `npm run bench -- hostile` (no database needed).
import { loadWorkflowSource } from "../src/engine/definition/load.js";
import { DEFAULT_YAML_LIMITS } from "../src/engine/definition/yaml-limits.js";
import { hostileExpressions, hostileYaml } from "../test/engine/definition/hostile-cases.js";
import { evaluateHostile } from "../test/engine/definition/hostile-eval.js";

const MAX = DEFAULT_YAML_LIMITS.maxBytes;
const HEAD = "on: { pubsub: { channel: c } }\nsteps:\n  - publish: { channel: c, data: {} }\n";

/** `unit` repeated to just under the size limit after `head`. */
function fill(head: string, unit: (i: number) => string): string {
  let out = head;
  for (let i = 0; ; i++) {
    const next = unit(i);
    if (out.length + next.length > MAX) return out;
    out += next;
  }
}

const files: Record<string, string> = {
  "many small flow mappings": fill(`${HEAD}x-a:\n`, (i) => `  k${i}: [[[[{a: 1}]]]]\n`),
  "one mapping of many keys": fill(`${HEAD}x-a:\n`, (i) => `  k${i}: 1\n`),
  "one flow list of numbers": `${fill(`${HEAD}x-a: [`, () => "1,")}1]\n`,
  "many steps with expressions": fill("on: { pubsub: { channel: c } }\nsteps:\n", (i) => {
    return `  - publish: { channel: c${i}, data: { a: "\${{ event.data.x${i} + 1.0 }}" } }\n`;
  }),
  "the largest alias expansion allowed": `x-a: &a [${Array(99).fill("1").join(", ")}]\nx-b: [${Array(99).fill("*a").join(", ")}]\n${HEAD}`,
  ...hostileYaml,
};

function slowest(fn: () => unknown): { ms: number; result: unknown } {
  let ms = 0;
  let result: unknown;
  for (let i = 0; i < 5; i++) {
    const t = performance.now();
    result = fn();
    ms = Math.max(ms, performance.now() - t);
  }
  return { ms, result };
}

console.log(`workflow files (limit ${MAX} bytes): slowest of 5 loads`);
for (const [name, text] of Object.entries(files)) {
  const { ms, result } = slowest(() => loadWorkflowSource("bench.yaml", text, { envAllow: [] }));
  const r = result as { problems: { message: string }[] };
  const outcome = r.problems.length ? `refused: ${r.problems[0]!.message.slice(0, 60)}` : "loaded";
  console.log(
    `  ${name.padEnd(38)} ${String(text.length).padStart(7)} B ${ms.toFixed(1).padStart(8)} ms  ${outcome}`,
  );
}

console.log("hostile expressions: slowest of 5 evaluations");
for (const [name, source] of Object.entries(hostileExpressions)) {
  const { ms, result } = slowest(() => evaluateHostile(source));
  console.log(`  ${name.padEnd(38)} ${ms.toFixed(1).padStart(8)} ms  ${String(result).slice(0, 70)}`);
}
