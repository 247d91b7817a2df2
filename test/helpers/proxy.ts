// A TCP proxy on loopback whose traffic can be frozen, as a network partition freezes it: the connections stay
// open and nothing is refused, but nothing arrives any more. close() destroys every connection through it.
import net from "node:net";
import type pg from "pg";
import { createPool } from "../../src/db/pool.js";

export interface TcpProxy {
  port: number;
  /** From now on, no byte gets through, either way, on the connections open now or to come. */
  freeze(): void;
  /** The local ports of the proxy's connections to the target (pg_stat_activity's client_port). */
  upstreamPorts(): number[];
  close(): Promise<void>;
}

/** `port`: the port to listen on (default any): a proxy closed and made again on it is the server coming back. */
export async function tcpProxy(targetPort: number, targetHost = "127.0.0.1", port = 0): Promise<TcpProxy> {
  let frozen = false;
  const sockets = new Set<net.Socket>();
  const upstreams = new Set<net.Socket>();
  const forward = (from: net.Socket, to: net.Socket) =>
    from.on("data", (chunk) => {
      if (!frozen) to.write(chunk);
    });
  const server = net.createServer((client) => {
    const upstream = net.connect(targetPort, targetHost);
    upstreams.add(upstream);
    upstream.on("close", () => upstreams.delete(upstream));
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on("error", () => {});
      s.on("close", () => {
        sockets.delete(s);
        // Across a partition, one side closing is not heard of on the other.
        if (frozen) return;
        client.destroy();
        upstream.destroy();
      });
    }
    forward(client, upstream);
    forward(upstream, client);
  });
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    freeze() {
      frozen = true;
    },
    upstreamPorts: () => [...upstreams].map((s) => s.localPort).filter((p): p is number => p !== undefined),
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A pool that reaches the database at `url` through a new freezable proxy (close the proxy before ending it). */
export async function proxiedPool(url: string, max: number): Promise<{ proxy: TcpProxy; pool: pg.Pool }> {
  const u = new URL(url);
  const proxy = await tcpProxy(Number(u.port || 5432), u.hostname === "localhost" ? "127.0.0.1" : u.hostname);
  u.hostname = "127.0.0.1";
  u.port = String(proxy.port);
  // A new connection through the frozen proxy fails after 1 s, not 10: the tests' leases are about a second.
  return { proxy, pool: createPool(u.toString(), { max, connectTimeoutMs: 1_000 }) };
}
