// A plain node:http server for the daemon's endpoints on a port of their own (SKYFLOW_HTTP_PORT), and the
// readiness checks built from the daemon's live connections.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { RouteHandler } from "./status.js";

export interface HttpServer {
  port: number;
  close(): Promise<void>;
}

export async function startHttpServer(
  handler: RouteHandler,
  port: number,
  host = "0.0.0.0",
): Promise<HttpServer> {
  const server: Server = createServer((req, res) => {
    handler(req, res).then(
      (handled) => {
        if (!handled) {
          res.writeHead(404, { "content-type": "application/json" });
          res.end(JSON.stringify({ error: "not found" }));
        }
      },
      () => {
        if (!res.headersSent) res.writeHead(500, { "content-type": "application/json" });
        res.end(JSON.stringify({ error: "internal error" }));
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
