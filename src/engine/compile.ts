// Recompiles a stored workflow version with the definition loader, for runs resumed on an older version.
import { loadWorkflowSource } from "./definition/load.js";
import type { WorkflowDefinition } from "./definition/types.js";

export async function compileStoredSource(file: string, source: string): Promise<WorkflowDefinition> {
  const r = loadWorkflowSource(file, source);
  if (!r.workflow) {
    const why = r.problems.map((p) => p.message).join("; ");
    throw new Error(`the stored version of ${file} no longer compiles: ${why}`);
  }
  return r.workflow;
}
