// foreach over 1,000 items with one publish inner step, through the engine on a scratch database and the
// development server's pubsub: item-steps per second (each inner step saved like a top-level one). Rounds
// alternate between concurrency 1 (in order) and 10, three of each; the median of each is printed.
// `npm run bench -- foreach [items]`. Printed, never asserted.
import { performance } from "node:perf_hooks";
import { migrate } from "../src/db/migrate.js";
import { createPool } from "../src/db/pool.js";
import { loadWorkflowSource } from "../src/engine/definition/load.js";
import type { Catalog, WorkflowDefinition } from "../src/engine/definition/types.js";
import { createEngine } from "../src/engine/engine.js";
import { stepKinds } from "../src/engine/step-kinds.js";
import { silentLogger } from "../src/log.js";
import { benchSkygear, median, scratchDatabase } from "./lib.js";

const ITEMS = Number(process.argv[2] ?? 1000);
const ROUNDS = 3;

function workflow(name: string, concurrency: number): WorkflowDefinition {
  const text = `name: ${name}
on: { call: {} }
steps:
  - id: each
    foreach: \${{ event.items }}
    concurrency: ${concurrency}
    steps:
      - id: pub
        publish: { channel: bench, data: { i: "\${{ index }}", at: "\${{ item }}" } }
`;
  const r = loadWorkflowSource(`${name}.yaml`, text);
  if (!r.workflow) throw new Error(r.problems.map((p) => p.message).join("; "));
  return r.workflow;
}

async function main(): Promise<void> {
  const db = await scratchDatabase("foreach");
  const pool = createPool(db.url, { max: 20 });
  try {
    await migrate(pool);
    const { schema, server, skygear, pubsub } = await benchSkygear(pool);
    const defs = [workflow("each1", 1), workflow("each10", 10)];
    const catalog: Catalog = {
      get: (n) => defs.find((d) => d.name === n),
      list: () => defs,
      subscribe: () => () => {},
    };
    const engine = createEngine({
      pool,
      catalog,
      clients: { skygear, pool, appSchema: schema, pubsub },
      log: silentLogger(),
      stepKinds,
    });
    await engine.start();
    const items = Array.from({ length: ITEMS }, (_, i) => `item-${i}`);
    const round = async (name: string): Promise<number> => {
      const t0 = performance.now();
      const { runId } = await engine.trigger(name, { items });
      const run = await engine.waitForRun(runId, 600_000);
      if (run.status !== "succeeded") throw new Error(`${name}: ${run.status} ${JSON.stringify(run.error)}`);
      return ITEMS / ((performance.now() - t0) / 1000);
    };
    await round("each10"); // warm-up
    const rates: Record<string, number[]> = { each1: [], each10: [] };
    for (let i = 0; i < ROUNDS; i++) for (const n of ["each1", "each10"]) rates[n]!.push(await round(n));
    console.log(`foreach over ${ITEMS} items, one publish inner step each (${ROUNDS} alternating rounds):`);
    for (const [n, c] of [
      ["each1", 1],
      ["each10", 10],
    ] as const) {
      const xs = rates[n]!;
      console.log(
        `  concurrency ${c}: median ${median(xs).toFixed(0)} item-steps/s (rounds ${xs.map((x) => x.toFixed(0)).join(", ")})`,
      );
    }
    await engine.stop({ graceMs: 0 });
    await pubsub.close();
    await server.close();
  } finally {
    await pool.end();
    await db.drop();
  }
}

await main();
