// Thin adapters between the daemon and the other modules' entry points: the definition loader's answer as
// the catalog's FileResult, and the triggers with their statistics fed to the metrics.
import type pg from "pg";
import type { FileResult } from "./engine/catalog.js";
import { type LoadOptions, loadWorkflowFile } from "./engine/definition/load.js";
import type { Catalog } from "./engine/definition/types.js";
import type { Listener, ListenOptions } from "./engine/listen.js";
import type { RunHandoff } from "./engine/store/claim.js";
import { startTriggers } from "./engine/triggers/index.js";
import type { Logger } from "./log.js";
import type { Metrics } from "./metrics.js";
import type { PubsubClient } from "./skygear/pubsub.js";

export async function loadOneFile(file: string, opts: LoadOptions = {}): Promise<FileResult> {
  const r = await loadWorkflowFile(file, opts);
  return { file, workflow: r.problems.length === 0 ? r.workflow : undefined, problems: r.problems };
}

export interface TriggerSetOptions {
  pool: pg.Pool;
  catalog: Catalog;
  appSchema: string;
  wake: () => void;
  handoff?: RunHandoff;
  log: Logger;
  pubsub: PubsubClient;
  loopDepth: number;
  env: Record<string, string>;
  metrics: Metrics;
  secrets: string[];
  listen?: (o: ListenOptions) => Listener;
}

export async function startTriggerSet(o: TriggerSetOptions): Promise<{ stop(): Promise<void> }> {
  const triggers = await startTriggers({
    pool: o.pool,
    catalog: o.catalog,
    appSchema: o.appSchema,
    wake: o.wake,
    ...(o.handoff ? { handoff: o.handoff } : {}),
    log: o.log,
    pubsub: o.pubsub,
    loopDepth: o.loopDepth,
    env: o.env,
    secrets: o.secrets,
    ...(o.listen ? { listen: o.listen } : {}),
  });
  o.metrics.setTriggerStats(() => triggers.stats());
  return triggers;
}
