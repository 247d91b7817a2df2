// Which definition a run executes: the live one when the run started on the live version, else the exact
// version it started on, recompiled from skyflow.workflow_versions (cached per process).
import type { Queryable } from "../db/pool.js";
import type { Catalog, WorkflowDefinition } from "./definition/types.js";
import { loadVersion } from "./store/versions.js";

/** Compiles a stored workflow text, as the loader does for a file. */
export type CompileSource = (file: string, source: string) => Promise<WorkflowDefinition>;

export interface Definitions {
  definitionFor(workflow: string, version: string): Promise<WorkflowDefinition>;
}

export function createDefinitions(
  db: Queryable,
  catalog: Pick<Catalog, "get">,
  compile: CompileSource,
): Definitions {
  const compiled = new Map<string, Promise<WorkflowDefinition>>();
  return {
    async definitionFor(workflow, version) {
      const live = catalog.get(workflow);
      if (live && live.version === version) return live;
      const key = `${workflow}@${version}`;
      let p = compiled.get(key);
      if (!p) {
        p = (async () => {
          const row = await loadVersion(db, workflow, version);
          if (!row) throw new Error(`workflow ${workflow} version ${version} is not stored; cannot run it`);
          return compile(row.file, row.source);
        })();
        compiled.set(key, p);
        p.catch(() => compiled.delete(key));
      }
      return p;
    },
  };
}
