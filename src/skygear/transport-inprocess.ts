// The in-process transport: calls the server's SkygearHandler directly, no HTTP, with the HTTP transport's
// behaviour: same statuses and envelopes, a JSON round trip each way (no aliasing of the caller's records or
// the server's objects, Dates become strings as on the wire), and the same timeout and abort semantics.
import type { SkygearHandler } from "../server/types.js";
import { Deadline } from "./deadline.js";
import type { CallOptions, Transport } from "./types.js";

const HEADERS = { "content-type": "application/json", "x-skygear-sdk-version": "skyflow/0.1" };

/** What the HTTP server answers when its handler throws (src/server/http.ts). */
const UNEXPECTED = {
  status: 500,
  body: { error: { name: "UnexpectedError", code: 10000, message: "An unexpected error occurred" } },
};

export function createInProcessTransport(handler: SkygearHandler): Transport {
  return {
    async send(action: string, body: Record<string, unknown>, opts: CallOptions) {
      const deadline = new Deadline(action, opts);
      try {
        const failed = deadline.failure();
        if (failed) throw failed;
        // Serialised before the race so that a body JSON cannot encode fails here as over HTTP.
        const request = JSON.parse(JSON.stringify(body)) as unknown;
        const fired = new Promise<never>((_, reject) => deadline.onFire(reject));
        // Like an HTTP request the client gave up on, the handler's work goes on; only the caller moves on.
        return await Promise.race([answer(handler, action, request), fired]);
      } finally {
        deadline.done();
      }
    },
    close: async () => {},
  };
}

async function answer(
  handler: SkygearHandler,
  action: string,
  body: unknown,
): Promise<{ status: number; body: unknown }> {
  let out: { status: number; body: unknown };
  try {
    out = await handler.handle({ pathAction: action, body, headers: { ...HEADERS } });
  } catch {
    return structuredClone(UNEXPECTED);
  }
  const text = out.body === undefined ? "" : JSON.stringify(out.body);
  return { status: out.status, body: text === "" ? undefined : JSON.parse(text) };
}
