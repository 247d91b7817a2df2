// `_status:healthz` and the home action (`POST /` with no action): liveness answers of v1, plus a database
// round trip so a healthz that says OK means the server can serve records.
import { SkygearServerError } from "./errors.js";
import type { ActionSpec } from "./types.js";

export const healthActions: ActionSpec[] = [
  {
    name: "_status:healthz",
    auth: "none",
    async handle(req) {
      try {
        await req.app.pool.query("SELECT 1");
      } catch {
        throw new SkygearServerError("UnexpectedUnableToOpenDatabase", "database unavailable");
      }
      return { result: { status: "OK" } };
    },
  },
];

/** v1's home handler, reached by `POST /` without an action. */
export const HOME: ActionSpec = {
  name: "",
  auth: "none",
  handle: async () => ({ result: { status: "OK" } }),
};
