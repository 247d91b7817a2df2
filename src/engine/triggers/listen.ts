// A dedicated, reconnecting LISTEN connection. It also carries the record trigger's wake-flag updates, with
// synchronous_commit off because the flag needs no durability.
import pg from "pg";
import type { Logger } from "../../log.js";

export interface Listener {
  /** The live client, or undefined while reconnecting. */
  client(): pg.Client | undefined;
  stop(): Promise<void>;
}

export function startListener(opts: {
  connection: pg.ClientConfig;
  channel: string;
  onNotify: () => void;
  /** After every (re)connect: notifications may have been missed meanwhile. */
  onConnect: () => void;
  log: Logger;
}): Listener {
  let current: pg.Client | undefined;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let delay = 100;

  const connect = async (): Promise<void> => {
    if (stopped) return;
    const c = new pg.Client({ ...opts.connection, application_name: "skyflow-listen" });
    c.on("error", (err) => opts.log.warn({ err: err.message }, "trigger listen connection error"));
    c.on("end", () => {
      if (current === c) current = undefined;
      if (!stopped) retry();
    });
    c.on("notification", () => opts.onNotify());
    try {
      await c.connect();
      await c.query("SET synchronous_commit = off");
      await c.query(`LISTEN ${opts.channel}`);
    } catch (err) {
      opts.log.warn({ err: (err as Error).message }, "trigger listen connect failed; retrying");
      await c.end().catch(() => {});
      retry();
      return;
    }
    if (stopped) {
      await c.end().catch(() => {});
      return;
    }
    current = c;
    delay = 100;
    opts.onConnect();
  };
  const retry = (): void => {
    if (stopped || timer) return;
    timer = setTimeout(() => {
      timer = undefined;
      connecting = connect();
    }, delay);
    delay = Math.min(delay * 2, 5_000);
  };
  let connecting = connect();
  return {
    client: () => current,
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await connecting;
      const c = current;
      current = undefined;
      await c?.end().catch(() => {});
    },
  };
}
