// TEMPORARY latency trace (SKYFLOW_TRACE=<file prefix>): performance.now() at each stage of a change's way
// from its NOTIFY to its sql step's statement, written as raw samples to <prefix>.<pid> at exit.
import { writeFileSync } from "node:fs";
import { performance } from "node:perf_hooks";

const file = process.env.SKYFLOW_TRACE;
let open: (string | number)[] | undefined;
let last: (string | number)[] | undefined;
const samples: (string | number)[][] = [];

function markImpl(stage: string): void {
  const now = performance.now();
  if (stage === "notify") {
    if (open) return;
    open = [stage, now];
    return;
  }
  const s = open ?? last;
  if (!s || s.length > 400) return;
  s.push(stage, now);
  if (stage === "stmt" && open) {
    samples.push(open);
    last = open;
    open = undefined;
  }
}

export const mark: ((stage: string) => void) | undefined = file ? markImpl : undefined;

if (file) {
  process.on("exit", () => {
    const out = samples.map((s) => {
      const o: Record<string, number> = {};
      const t0 = s[1] as number;
      for (let i = 2; i < s.length; i += 2)
        if (o[s[i] as string] === undefined) o[s[i] as string] = (s[i + 1] as number) - t0;
      return o;
    });
    writeFileSync(`${file}.${process.pid}`, JSON.stringify(out));
  });
}
