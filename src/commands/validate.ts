// `skyflow validate [paths...]`: loads workflow files or directories (default ./workflows), prints every
// problem as file:line:column: path: message and exits 1, or one summary line per workflow and exits 0.
import { stat } from "node:fs/promises";
import { isAbsolute, join, relative } from "node:path";
import { loadConfig } from "../config.js";
import {
  directoryChecks,
  type LoadOptions,
  loadWorkflowDir,
  loadWorkflowFile,
} from "../engine/definition/load.js";
import type { TriggerDefinition, WorkflowDefinition } from "../engine/definition/types.js";
import { ConfigError, formatProblem, type Problem } from "../errors.js";
import { defineCommand } from "./args.js";
import type { CommandIO } from "./types.js";

export const command = defineCommand({
  name: "validate",
  summary: "check workflow files: every problem with file:line:column, or a summary of each workflow",
  usage: "skyflow validate [paths...] [--format text|json]",
  args: {
    options: { format: { type: "string", choices: ["text", "json"] } },
    positionals: { max: Number.POSITIVE_INFINITY },
  },
  async run(io, { values, positionals }) {
    let opts: LoadOptions;
    try {
      const config = loadConfig(io.env);
      opts = { envAllow: config.envAllow, maxBytes: config.workflowMaxBytes };
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      io.stderr.write(`skyflow validate: ${err.message}\n`);
      return 2;
    }
    const paths = positionals.length > 0 ? positionals : ["workflows"];
    const { workflows, problems } = await validatePaths(io, paths, opts);
    if (values.format === "json")
      io.stdout.write(`${JSON.stringify(jsonReport(workflows, problems), null, 2)}\n`);
    else writeText(io, workflows, problems);
    return problems.length > 0 ? 1 : 0;
  },
});

/** Loads every path (file or directory); workflow names must be unique across all of them. */
export async function validatePaths(
  io: Pick<CommandIO, "cwd">,
  paths: string[],
  opts: LoadOptions,
): Promise<{ workflows: WorkflowDefinition[]; problems: Problem[] }> {
  const all: WorkflowDefinition[] = [];
  const problems: Problem[] = [];
  for (const p of paths) {
    const abs = isAbsolute(p) ? p : join(io.cwd, p);
    const shown = isAbsolute(p) ? p : relative(io.cwd, abs) || ".";
    const isDir = await stat(abs).then(
      (s) => s.isDirectory(),
      () => false,
    );
    const r = isDir
      ? await loadWorkflowDir(abs, opts)
      : await loadWorkflowFile(abs, opts).then((x) => ({
          workflows: x.workflow ? [x.workflow] : [],
          problems: x.problems,
        }));
    const rename = (f: string) => (abs === f ? shown : join(shown, relative(abs, f)));
    for (const w of r.workflows) {
      const warnings = w.warnings?.map((x) => ({ ...x, file: rename(x.file) }));
      all.push({ ...w, file: rename(w.file), ...(warnings ? { warnings } : {}) });
    }
    for (const pr of r.problems)
      problems.push({ ...pr, file: rename(pr.file), message: pr.message.split(abs).join(shown) });
  }
  const unique = directoryChecks(all);
  return { workflows: unique.workflows, problems: [...problems, ...unique.problems] };
}

function triggerText(t: TriggerDefinition): string {
  if (t.kind === "record") return `record ${t.type} (${t.events.join(", ")})`;
  if (t.kind === "pubsub") return `pubsub ${t.channel}`;
  if (t.kind === "call") return "call";
  return `cron "${t.schedule}" ${t.timezone}`;
}

/** Steps acting as master or as a user named by a pubsub message: allowed, so they never change the exit code. */
function warningsOf(workflows: WorkflowDefinition[]): Problem[] {
  return workflows.flatMap((w) => w.warnings ?? []);
}

function writeText(io: CommandIO, workflows: WorkflowDefinition[], problems: Problem[]): void {
  for (const w of warningsOf(workflows)) io.stderr.write(`warning: ${formatProblem(w)}\n`);
  if (problems.length > 0) {
    for (const p of problems) io.stderr.write(`${formatProblem(p)}\n`);
    io.stderr.write(`${problems.length} problem${problems.length === 1 ? "" : "s"}\n`);
    return;
  }
  for (const w of workflows) {
    const n = w.steps.length;
    const off = w.enabled ? "" : " (disabled)";
    io.stdout.write(
      `${w.name}: on ${w.triggers.map(triggerText).join(" | ")}; ${n} step${n === 1 ? "" : "s"}${off}\n`,
    );
  }
  io.stdout.write(`${workflows.length} workflow${workflows.length === 1 ? "" : "s"} valid\n`);
}

function jsonReport(workflows: WorkflowDefinition[], problems: Problem[]) {
  return {
    ok: problems.length === 0,
    workflows: workflows.map((w) => ({
      name: w.name,
      file: w.file,
      enabled: w.enabled,
      triggers: w.triggers.map((t) => t.kind),
      steps: w.steps.length,
      on_failure: w.onFailure.length,
    })),
    problems: problems.map((p) => ({ ...p, text: formatProblem(p) })),
    warnings: warningsOf(workflows).map((p) => ({ ...p, text: formatProblem(p) })),
  };
}
