// The daemon's database watch against a real Postgres reached through a switchable TCP relay: one line when
// the database stops answering, the waiting parts' connection errors left out meanwhile, one line when it
// answers again.
import net from "node:net";
import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { DatabaseOutage, watchDatabase } from "../../src/db/health.js";
import { createPool } from "../../src/db/pool.js";
import { createLogger } from "../../src/log.js";
import { eventually } from "../e2e/child.js";
import { useTestDatabase } from "../helpers/db.js";

const db = useTestDatabase("db_health");

/** Relays to Postgres while up; while down, drops every connection and refuses new ones at once. */
async function relay(target: URL) {
  let up = true;
  const open = new Set<net.Socket>();
  const server = net.createServer((client) => {
    if (!up) return void client.destroy();
    const upstream = net.connect(Number(target.port || 5432), target.hostname);
    for (const s of [client, upstream]) {
      open.add(s);
      s.on("error", () => {});
      s.on("close", () => {
        open.delete(s);
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    port: (server.address() as net.AddressInfo).port,
    set(isUp: boolean) {
      up = isUp;
      if (!up) for (const s of open) s.destroy();
    },
    close: () => {
      for (const s of open) s.destroy();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
}

describe("watchDatabase", () => {
  it("says once that the database went away, leaves the later connection errors out, and says when it is back", async () => {
    const target = new URL(db.url);
    const r = await relay(target);
    const url = new URL(db.url);
    url.host = `127.0.0.1:${r.port}`;
    const pool = createPool(url.toString(), { max: 2 });
    const outage = new DatabaseOutage();
    const lines: { level: number; msg: string }[] = [];
    const destination = new Writable({
      write(chunk, _e, done) {
        lines.push(JSON.parse(String(chunk)));
        done();
      },
    });
    const log = createLogger({ level: "info", destination, mute: (args) => outage.mute(args) });
    const watch = watchDatabase({ pool, log, outage, where: "test@relay", intervalMs: 50 });
    try {
      const said = (text: string) => lines.filter((l) => l.msg.includes(text));
      await new Promise((res) => setTimeout(res, 200));
      expect(lines).toEqual([]);
      r.set(false);
      // The first part to lose its connection is heard, and has the watch check at once; the next are not.
      log.warn({ err: "Error: connect ECONNREFUSED 127.0.0.1:5" }, "claiming runs failed; the poll retries");
      log.warn({ err: "Error: connect ECONNREFUSED 127.0.0.1:5" }, "record trigger drain failed");
      await eventually(async () => (said("does not answer").length > 0 ? true : undefined));
      log.warn({ err: new Error("Connection terminated unexpectedly") }, "LISTEN connection lost");
      log.error({ err: 'relation "nope" does not exist' }, "a step failed");
      // Several more checks fail while it is down.
      await new Promise((res) => setTimeout(res, 300));
      r.set(true);
      await eventually(async () => (said("answers again").length > 0 ? true : undefined));
      expect(said("does not answer")).toHaveLength(1);
      expect(said("does not answer")[0]!.level).toBe(50);
      expect(said("does not answer")[0]!.msg).toContain("the database test@relay does not answer");
      expect(said("claiming runs failed")).toHaveLength(1);
      expect(said("record trigger drain failed")).toEqual([]);
      expect(said("LISTEN connection lost")).toEqual([]);
      expect(said("a step failed")).toHaveLength(1);
      expect(said("answers again")[0]!.msg).toMatch(/after [\d.]+ s; 2 connection errors/);
      // Up again: connection errors are logged as usual.
      log.warn({ err: "Error: connect ECONNREFUSED 127.0.0.1:5" }, "claiming runs failed; the poll retries");
      expect(said("claiming runs failed")).toHaveLength(2);
    } finally {
      await watch.stop();
      await r.close();
      await pool.end();
    }
  });
});
