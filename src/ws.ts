// The `ws` package, required (CommonJS) rather than imported. Node's ESM loader reads every CommonJS file an
// `import` reaches for its export names (cjs-module-lexer): ws's ESM wrapper imports eight of its files, about
// 130 KB of source, which made V8 optimize the lexer's main loop as the daemon started, and the freed
// compiler memory stayed with the process (3-6 MB of an idle daemon's resident memory). The classes are the
// same objects as the wrapper's (ws/index.js requires the same files).
import { createRequire } from "node:module";
import type * as Ws from "ws";

const ws = createRequire(import.meta.url)("ws") as Pick<typeof Ws, "WebSocket" | "WebSocketServer">;

export const WebSocket = ws.WebSocket;
export type WebSocket = Ws.WebSocket;
export const WebSocketServer = ws.WebSocketServer;
export type WebSocketServer = Ws.WebSocketServer;
