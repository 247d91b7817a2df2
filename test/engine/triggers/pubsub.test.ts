// Pubsub trigger: one leader per channel among engines sharing a database, takeover, `when`, event ids.
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startTriggers, type TriggerOptions, type Triggers } from "../../../src/engine/triggers/index.js";
import { startPubsubDriver } from "../../../src/engine/triggers/pubsub/drive.js";
import { silentLogger } from "../../../src/log.js";
import { createTestDatabase, type TestDatabase, withFailingInserts } from "../../helpers/db.js";
import { proxiedPool } from "../../helpers/proxy.js";
import { catalog, hub, runsOf, waitFor, when, workflow } from "./helpers.js";

let db: TestDatabase;
const running: Pick<Triggers, "stop">[] = [];

async function start(
  cat: ReturnType<typeof catalog>,
  pubsub: ReturnType<ReturnType<typeof hub>["client"]>,
  extra: Partial<TriggerOptions> = {},
) {
  const t = await startTriggers({
    pool: db.pool,
    catalog: cat,
    appSchema: "app_ps",
    wake: () => {},
    log: silentLogger(),
    pubsub,
    pollMs: 200,
    ...extra,
  });
  running.push(t);
  return t;
}

/** Until one engine has subscribed to `channel`. */
const subscribed = (h: ReturnType<typeof hub>, channel: string) =>
  waitFor(
    async () => h.subscribers(channel),
    (s) => s.length === 1,
  );

beforeAll(async () => {
  db = await createTestDatabase("triggers_pubsub");
});
afterEach(async () => {
  await Promise.all(running.splice(0).map((t) => t.stop()));
});
afterAll(async () => {
  await db.drop();
});

describe("pubsub trigger", () => {
  it("lets exactly one of two engines subscribe, and the other take over when it stops", async () => {
    const h = hub();
    const cat = catalog([workflow("orders", [{ kind: "pubsub", channel: "orders" }])]);
    const a = await start(cat, h.client("a"));
    const b = await start(cat, h.client("b"));
    await new Promise((r) => setTimeout(r, 500));
    expect(h.subscribers("orders")).toHaveLength(1);
    const leader = h.subscribers("orders")[0];
    await (leader === "a" ? a : b).stop();
    const next = await waitFor(
      async () => h.subscribers("orders"),
      (s) => s.length === 1 && s[0] !== leader,
      5_000,
    );
    expect(next).toEqual([leader === "a" ? "b" : "a"]);
  });

  it("stops leading when its lock session stops answering (a partition), and another engine leads once that session is gone", async () => {
    const h = hub();
    const cat = catalog([workflow("cut", [{ kind: "pubsub", channel: "cut" }])]);
    // Engine a reaches the database through a proxy that the test freezes.
    const { proxy, pool } = await proxiedPool(db.url, 4);
    try {
      // a is the pubsub driver alone: the record and cron triggers' queries through the partition would
      // hold their own stops (the pool has no query timeout).
      const a = await startPubsubDriver({
        pool,
        catalog: cat,
        pubsub: h.client("a"),
        wake: () => {},
        log: silentLogger(),
        clock: () => new Date(),
        env: {},
        retryMs: 200,
        livenessMs: 500,
      });
      running.push(a);
      await subscribed(h, "cut");
      await start(cat, h.client("b"));
      await new Promise((r) => setTimeout(r, 300));
      expect(h.subscribers("cut")).toEqual(["a"]);
      proxy.freeze();
      // a's liveness check gets no answer: a stops leading, though its session still holds the lock.
      expect(
        await waitFor(
          async () => h.subscribers("cut"),
          (s) => s.length === 0,
          5_000,
        ),
      ).toEqual([]);
      // The server ends that session (as its TCP keepalive would): b takes the channel.
      const { rows } = await db.pool.query<{ n: number }>(
        `SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity
         WHERE datname = current_database() AND application_name = 'skyflow-pubsub-leader' AND client_port = ANY($1)`,
        [proxy.upstreamPorts()],
      );
      expect(rows[0]!.n).toBe(1);
      expect(
        await waitFor(
          async () => h.subscribers("cut"),
          (s) => s[0] === "b",
          5_000,
        ),
      ).toEqual(["b"]);
      // Meanwhile a tries to reconnect through the partition, and gives up within its liveness window: its
      // stop, which waits for that election, returns while the partition lasts.
      await new Promise((r) => setTimeout(r, 1_200));
      const stopped = await Promise.race([
        a.stop().then(() => "stopped"),
        new Promise((r) => setTimeout(() => r("still waiting after 3 s"), 3_000)),
      ]);
      expect(stopped).toBe("stopped");
    } finally {
      await proxy.close();
      await Promise.all(running.splice(0).map((t) => t.stop()));
      await pool.end();
    }
  });

  it("starts a run per message that passes `when`, each with its own event id", async () => {
    const h = hub();
    const cat = catalog([
      workflow("big_orders", [{ kind: "pubsub", channel: "shop", when: when("event.data.total > 100.0") }]),
    ]);
    await start(cat, h.client("a"));
    await subscribed(h, "shop");
    h.publish("shop", { total: 50 });
    h.publish("shop", { total: 150 });
    h.publish("shop", { total: 150 });
    const runs = await waitFor(
      () => runsOf(db.pool, "big_orders"),
      (r) => r.length === 2,
    );
    await new Promise((r) => setTimeout(r, 200));
    expect(await runsOf(db.pool, "big_orders")).toHaveLength(2);
    expect(runs[0]!.event).toMatchObject({ type: "pubsub", channel: "shop", data: { total: 150 } });
    expect(runs[0]!.event_id).not.toBe(runs[1]!.event_id);
  });

  it("drops a message nested deeper than it can handle, redacts credential fields, and goes on", async () => {
    const h = hub();
    const cat = catalog([workflow("orders_hostile", [{ kind: "pubsub", channel: "hostile" }])]);
    await start(cat, h.client("a"));
    await subscribed(h, "hostile");
    let deep: unknown = 1;
    for (let i = 0; i < 100_000; i++) deep = [deep];
    h.publish("hostile", { deep });
    h.publish("hostile", { password: "hunter2", card: { token: "tok" }, total: 3 });
    const runs = await waitFor(
      () => runsOf(db.pool, "orders_hostile"),
      (r) => r.length === 1,
    );
    expect(runs[0]!.event).toMatchObject({
      data: { password: "[redacted]", card: { token: "[redacted]" }, total: 3 },
    });
  });

  it("tries a message's runs again when their transaction fails (the database restarting), and starts them once", async () => {
    const h = hub();
    const cat = catalog([workflow("resilient", [{ kind: "pubsub", channel: "jobs" }])]);
    await start(cat, h.client("a"));
    await subscribed(h, "jobs");
    // The first two tries to store the run fail, as statements do while a database restarts.
    const { tries } = await withFailingInserts(db.pool, "skyflow.runs", 2, async () => {
      h.publish("jobs", { n: 1 });
      const runs = await waitFor(
        () => runsOf(db.pool, "resilient"),
        (r) => r.length === 1,
        5_000,
      );
      await new Promise((r) => setTimeout(r, 300));
      expect(await runsOf(db.pool, "resilient")).toHaveLength(1);
      expect(runs[0]!.event).toMatchObject({ type: "pubsub", channel: "jobs", data: { n: 1 } });
    });
    expect(tries).toBe(3);
  });

  it("gives a message up after its last try, counting it in the triggers' stats", async () => {
    const h = hub();
    const cat = catalog([workflow("doomed", [{ kind: "pubsub", channel: "lost" }])]);
    const t = await start(cat, h.client("a"), { pubsubMessageRetryMs: [20, 20] });
    await subscribed(h, "lost");
    const { tries } = await withFailingInserts(db.pool, "skyflow.runs", 1_000, async () => {
      h.publish("lost", { n: 1 });
      await waitFor(
        async () => t.stats().pubsubDropped,
        (n) => n === 1,
        5_000,
      );
    });
    expect(tries).toBe(3);
    expect(t.stats().pubsubRetrying).toBe(0);
    expect(await runsOf(db.pool, "doomed")).toHaveLength(0);
  });

  it("unsubscribes from a channel no workflow uses any more", async () => {
    const h = hub();
    const cat = catalog([workflow("temp", [{ kind: "pubsub", channel: "tmp" }])]);
    await start(cat, h.client("a"));
    await subscribed(h, "tmp");
    cat.set([]);
    expect(
      await waitFor(
        async () => h.subscribers("tmp"),
        (s) => s.length === 0,
      ),
    ).toEqual([]);
  });
});
