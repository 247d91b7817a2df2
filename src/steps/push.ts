// The `push` step: push:user or push:device with the notification as given; the output is the server's
// per-user or per-device answer.
import type { StepInput } from "../engine/definition/schema.js";
import { FatalStepError } from "../errors.js";
import type { StepKind } from "./types.js";

export const push: StepKind<StepInput<"push">, { results: unknown[] }> = {
  kind: "push",
  async run(ctx) {
    const b = ctx.input;
    const topic = b.topic || undefined;
    const sk = ctx.clients.skygear;
    const opts = { signal: ctx.signal };
    if (b.users != null) {
      const users = b.users.map((u) => (u.startsWith("user/") ? u.slice(5) : u));
      return { results: await sk.pushToUsers(users, b.notification, topic, opts) };
    }
    // The load check takes exactly one of users or devices; an expression may still give null for both.
    if (b.devices == null) throw new FatalStepError("InvalidArgument", "push: needs users or devices");
    return { results: await sk.pushToDevices(b.devices, b.notification, topic, opts) };
  },
};
