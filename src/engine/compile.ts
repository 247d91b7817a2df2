// Recompiles a stored workflow version with the definition loader, for runs resumed on an older version.
import type { WorkflowDefinition } from "./definition/types.js";

export async function compileStoredSource(file: string, source: string): Promise<WorkflowDefinition> {
  const path = "./definition/load.js";
  const mod = (await import(path)) as {
    loadWorkflowSource(file: string, text: string, opts?: unknown): unknown;
  };
  const r = (await mod.loadWorkflowSource(file, source, {})) as {
    workflow?: WorkflowDefinition;
    problems?: { message: string }[];
  };
  if (!r.workflow) {
    throw new Error(
      `stored version of ${file} no longer compiles: ${r.problems?.map((p) => p.message).join("; ")}`,
    );
  }
  return r.workflow;
}
