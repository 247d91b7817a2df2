// The dashboard's live feed on a large run table: what its poll (newest runs + runs in flight) and the
// overview's run list cost, with and without the runs_recent index, and how long a run written by another
// daemon takes to reach an open event stream. Run: npm run bench -- dashboard [runs=200000]
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { migrate } from "../src/db/migrate.js";
import { createPool } from "../src/db/pool.js";
import { LiveCatalog } from "../src/engine/catalog.js";
import { LiveFeed } from "../src/http/live.js";
import { workflowRows } from "../src/http/overview.js";
import { listRunSummaries } from "../src/http/runs-api.js";
import { silentLogger } from "../src/log.js";
import { median, pct, scratchDatabase } from "./lib.js";

const total = Number(process.argv[2] ?? 200_000);
const scratch = await scratchDatabase("dashboard");
const pool = createPool(scratch.url, { max: 4 });
try {
  await migrate(pool);
  await pool.query(
    `INSERT INTO skyflow.runs (id, workflow, version, event_id, event, status, created_at, started_at, finished_at)
     SELECT gen_random_uuid(), 'w' || (i % 20), 'v', 'e' || i, '{}',
            CASE WHEN i % 1000 = 0 THEN 'running' ELSE 'succeeded' END,
            now() - (($1::int - i) * interval '1 second'), now(), now()
     FROM generate_series(1, $1::int) AS i`,
    [total],
  );
  await pool.query("ANALYZE skyflow.runs");
  const poll = `(SELECT id, workflow, status, status || '|' || updated_at FROM skyflow.runs ORDER BY created_at DESC LIMIT 100)
    UNION (SELECT id, workflow, status, status || '|' || updated_at FROM skyflow.runs
           WHERE status IN ('pending', 'running', 'waiting') LIMIT 1000)`;
  const time = async (label: string, q: () => Promise<unknown>) => {
    const ms: number[] = [];
    for (let i = 0; i < 50; i++) {
      const t0 = performance.now();
      await q();
      ms.push(performance.now() - t0);
    }
    console.log(`${label}: median ${median(ms).toFixed(2)} ms, p95 ${pct(ms, 95).toFixed(2)} ms`);
  };
  console.log(`${total} runs, ${total / 1000} in flight`);
  await time("live poll", () => pool.query(poll));
  await time("overview run list (50)", () => listRunSummaries(pool, { limit: 50 }));
  const catalog = new LiveCatalog();
  catalog.apply(
    Array.from({ length: 20 }, (_, i) => ({
      file: `w${i}.yaml`,
      problems: [],
      workflow: {
        name: `w${i}`,
        file: `w${i}.yaml`,
        version: "v",
        enabled: true,
        source: "",
        triggers: [],
        steps: [],
        onFailure: [],
      },
    })),
  );
  await time("overview workflow rows (20 workflows)", () => workflowRows(pool, catalog));
  await pool.query("DROP INDEX skyflow.runs_recent");
  await time("live poll without runs_recent", () => pool.query(poll));
  await time("overview run list without runs_recent", () => listRunSummaries(pool, { limit: 50 }));
  await pool.query("CREATE INDEX runs_recent ON skyflow.runs (created_at DESC)");

  // A run written by "another daemon" (this process, straight into the table) until its event arrives.
  const live = new LiveFeed({ db: pool, catalog: new LiveCatalog(), log: silentLogger() });
  const server = createServer((_req, res) => live.attach(res));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  await new Promise((r) => setTimeout(r, 600));
  const lat: number[] = [];
  for (let i = 0; i < 20; i++) {
    const id = crypto.randomUUID();
    const t0 = performance.now();
    await pool.query(
      `INSERT INTO skyflow.runs (id, workflow, version, event_id, event, status) VALUES ($1::uuid, 'w', 'v', $1::text, '{}', 'running')`,
      [id],
    );
    let seen = "";
    while (!seen.includes(id)) seen += decoder.decode((await reader.read()).value);
    lat.push(performance.now() - t0);
    await new Promise((r) => setTimeout(r, 100 + Math.random() * 200));
  }
  console.log(
    `another daemon's run to an open event stream: median ${median(lat).toFixed(0)} ms, max ${Math.max(...lat).toFixed(0)} ms`,
  );
  await reader.cancel();
  live.close();
  server.closeAllConnections();
  server.close();
} finally {
  await pool.end();
  await scratch.drop();
}
