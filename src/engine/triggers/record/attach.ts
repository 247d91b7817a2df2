// Record trigger: keeps skyflow's row trigger on exactly the record tables the catalog watches, attaching a
// table as soon as it appears (event trigger when allowed, else a 1 s poll) and removing unneeded triggers.
import type pg from "pg";
import type { Logger } from "../../../log.js";
import type { Catalog } from "../../definition/types.js";
import { watchedTypes } from "./parse.js";
import * as q from "./sql.js";

export async function watchTables(o: {
  pool: pg.Pool;
  catalog: Catalog;
  schema: string;
  log: Logger;
  pollMs?: number;
}): Promise<{ stop(): Promise<void>; sync(): Promise<void> }> {
  let stopped = false;
  let busy: Promise<void> = Promise.resolve();
  let watchedKey = "";

  const syncOnce = async (): Promise<void> => {
    const types = [...watchedTypes(o.catalog.list())].sort();
    const key = types.join("\u0000");
    if (key !== watchedKey) {
      await q.setWatched(o.pool, o.schema, types);
      watchedKey = key;
    }
    const state = await q.triggerState(o.pool, o.schema, types);
    const absent = types.filter((t) => !state.attached.includes(t) && !state.missing.includes(t));
    if (absent.length > 0) await q.markAbsent(o.pool, o.schema, absent);
    for (const t of state.missing) {
      const replayed = await q.attachFound(o.pool, o.schema, t);
      if (replayed > 0)
        o.log.info(
          { table: `${o.schema}.${t}`, replayed },
          "record trigger attached to a new table; its rows so far recorded as creates",
        );
      else o.log.info({ table: `${o.schema}.${t}` }, "record trigger attached");
    }
    for (const t of state.attached.filter((t) => !types.includes(t))) {
      await q.detachTrigger(o.pool, o.schema, t);
      o.log.info({ table: `${o.schema}.${t}` }, "record trigger removed: no workflow watches it");
    }
  };
  // Serialized, so a catalog change and the poll never race on DDL.
  const sync = (): Promise<void> => {
    busy = busy.then(syncOnce).catch((err) => {
      o.log.warn({ err: (err as Error).message }, "record trigger attach failed; retrying on the next poll");
    });
    return busy;
  };

  if (!(await q.installEventTrigger(o.pool))) {
    o.log.info("no event trigger (needs superuser): new record tables are attached by a 1 s poll");
  }
  await sync();
  const unsubscribe = o.catalog.subscribe(() => {
    if (!stopped) void sync();
  });
  const timer = setInterval(() => void sync(), o.pollMs ?? 1_000);
  return {
    sync,
    async stop() {
      stopped = true;
      unsubscribe();
      clearInterval(timer);
      await busy;
    },
  };
}
