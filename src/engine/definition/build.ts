// A schema-valid workflow file -> WorkflowDefinition: defaults applied, expressions compiled, and every
// expression's references checked (earlier steps only, `error` only in on_failure, allowed env names). No I/O.
import type { Problem } from "../../errors.js";
import type { RawProblem } from "./check-schema.js";
import { kindOf } from "./checks.js";
import type { AstNode, CompiledExpr, ExprRef } from "./expr.js";
import { collectRefs, tryCompileExpression } from "./expr.js";
import { identityWarnings, withIdentity } from "./identity.js";
import {
  DURATION_UNITS,
  type RetryShape,
  type StepShape,
  type TriggerShape,
  type WorkflowFileShape,
} from "./schema.js";
import { scanExpressions, tryCompileTemplate } from "./template.js";
import type {
  Expr,
  RetryPolicy,
  StepDefinition,
  Template,
  TriggerDefinition,
  WorkflowDefinition,
} from "./types.js";
import type { ParsedYaml } from "./yaml.js";

export const DEFAULT_RETRY: RetryPolicy = {
  attempts: 3,
  backoff: "exponential",
  delayMs: 1000,
  maxDelayMs: 30_000,
  jitter: true,
};
export const DEFAULT_TIMEOUT_MS = 30_000;

/** `250ms`, `10s`, `5m`, `1h`, `2d` or a number of milliseconds. */
export function parseDuration(v: string | number): number {
  if (typeof v === "number") return v;
  const m = /^(\d+)(ms|s|m|h|d)$/.exec(v);
  if (!m) throw new Error(`invalid duration ${v}`);
  return Number(m[1]) * DURATION_UNITS[m[2] as keyof typeof DURATION_UNITS];
}

export interface BuildOptions {
  file: string;
  envAllow?: string[];
  /** The workflow has a pubsub trigger (for the warning on `as:` read from a message). */
  pubsub?: boolean;
}

/** Which references an expression may make where it is written. */
interface Scope {
  /** The step ids an expression may read: the first `upTo` of `ids`. */
  steps: "none" | { ids: string[]; upTo: number };
  error: boolean;
  /** Names beyond the context's own: item names and `index` inside a foreach, `incoming` in a match. */
  names: readonly string[];
}

/** What a list of steps sees: the ids before it, `error` (on_failure), the names of enclosing foreach steps. */
export interface ListScope {
  visible: readonly string[];
  error: boolean;
  names: readonly string[];
}

export class Builder {
  readonly problems: Problem[] = [];
  /** Allowed but worth a look: steps acting as master or as a user named by a pubsub message. */
  readonly warnings: Problem[] = [];
  /** The workflow's call steps, for the directory's checks. */
  readonly calls: NonNullable<WorkflowDefinition["calls"]> = [];
  /** Item name -> the path of a foreach that defines it, for the message when one is read outside. */
  itemNames = new Map<string, string>();
  constructor(
    private readonly y: ParsedYaml,
    private readonly opts: BuildOptions,
  ) {}

  raw(rp: RawProblem[]): void {
    for (const p of rp)
      this.problems.push({
        file: this.opts.file,
        ...this.y.at(p.path, p.atKey),
        path: p.path,
        message: p.message,
      });
  }

  triggers(on: WorkflowFileShape["on"]): TriggerDefinition[] {
    const list: TriggerShape[] = Array.isArray(on) ? on : [on];
    const none: Scope = { steps: "none", error: false, names: [] };
    return list.map((t, i): TriggerDefinition => {
      const p = Array.isArray(on) ? `on[${i}]` : "on";
      if ("record" in t) {
        const r = t.record;
        const when = r.when === undefined ? undefined : this.condition(r.when, `${p}.record.when`, none);
        return {
          kind: "record",
          type: r.type,
          database: r.database ?? "_public",
          events: r.events ?? ["create", "update"],
          ...(when ? { when } : {}),
        };
      }
      if ("pubsub" in t) {
        const when =
          t.pubsub.when === undefined ? undefined : this.condition(t.pubsub.when, `${p}.pubsub.when`, none);
        return { kind: "pubsub", channel: t.pubsub.channel, ...(when ? { when } : {}) };
      }
      if ("call" in t) return { kind: "call" };
      const c = t.cron;
      return {
        kind: "cron",
        schedule: c.schedule,
        timezone: c.timezone ?? "UTC",
        catchUp: c.catch_up ?? "none",
        overlap: c.overlap ?? "skip",
      };
    });
  }

  concurrency(c: WorkflowFileShape["concurrency"]): { limit: number; key?: Expr } | undefined {
    if (c === undefined) return undefined;
    if (typeof c === "number") return { limit: c };
    const key =
      c.key === undefined
        ? undefined
        : this.condition(c.key, "concurrency.key", { steps: "none", error: false, names: [] });
    return { limit: c.limit, ...(key ? { key } : {}) };
  }

  /**
   * A list of steps, recursively for foreach and parallel. `scope.visible`: the ids the list's first step may
   * read (earlier top-level steps and, inside a container, the enclosing lists' earlier steps).
   */
  steps(
    list: StepShape[],
    at: string,
    defaults: WorkflowFileShape["defaults"],
    scope: ListScope,
  ): StepDefinition[] {
    const visible = [...scope.visible];
    return list.map((s, i) => {
      const path = `${at}[${i}]`;
      const stepScope: Scope = {
        steps: { ids: visible, upTo: visible.length },
        error: scope.error,
        names: scope.names,
      };
      // An unnamed inner step is `steps[<i>]` within its list; its instance key adds the item or branch.
      const key = s.id ?? (at === "steps" || at === "on_failure" ? path : `steps[${i}]`);
      const def = this.step(s, path, key, defaults, stepScope, scope);
      if (s.id) visible.push(s.id);
      return def;
    });
  }

  private step(
    s: StepShape,
    path: string,
    key: string,
    defaults: WorkflowFileShape["defaults"],
    scope: Scope,
    list: ListScope,
  ): StepDefinition {
    const kind = kindOf(s as Record<string, unknown>) ?? "unknown";
    const cond = s.if === undefined ? undefined : this.condition(s.if, `${path}.if`, scope);
    const at = this.y.at(path);
    const common = {
      ...(s.id ? { id: s.id } : {}),
      key,
      name: s.name ?? kind,
      kind,
      ...(cond ? { if: cond } : {}),
      retry: retryPolicy({ ...defaults?.retry, ...s.retry }),
      timeoutMs: parseDuration(s.timeout ?? defaults?.timeout ?? DEFAULT_TIMEOUT_MS),
      continueOnError: s.continue_on_error ?? false,
      line: at.line,
      column: at.column,
    };
    const inner = (steps: unknown[], innerPath: string, names: readonly string[]) =>
      this.steps(steps as StepShape[], innerPath, defaults, {
        visible: scope.steps === "none" ? [] : scope.steps.ids.slice(0, scope.steps.upTo),
        error: list.error,
        names,
      });
    if (kind === "foreach") {
      const item = s.item ?? "item";
      const listTpl = this.template(s.foreach, `${path}.foreach`, scope);
      const steps = inner(s.steps ?? [], `${path}.steps`, [
        ...scope.names.filter((n) => n !== item),
        item,
        "index",
      ]);
      // A foreach has no tries of its own to retry or time out: its inner steps have.
      return {
        ...common,
        input: listTpl,
        retry: { ...common.retry, attempts: 1 },
        foreach: { item, concurrency: s.concurrency ?? 1, steps },
      };
    }
    if (kind === "parallel") {
      const branches = Object.entries(s.parallel ?? {}).map(([name, steps]) => ({
        name,
        steps: inner(steps, `${path}.parallel.${name}`, scope.names),
      }));
      return { ...common, input: {}, retry: { ...common.retry, attempts: 1 }, parallel: { branches } };
    }
    if (kind === "wait_for" && s.wait_for) {
      const { match: m, ...rest } = s.wait_for;
      const matchPath = `${path}.wait_for.match`;
      const match = this.condition(m, matchPath, { ...scope, names: [...scope.names, "incoming"] });
      if (match) this.checkMatch(match as CompiledExpr, matchPath);
      return {
        ...common,
        input: this.template(rest, `${path}.wait_for`, scope),
        ...(match ? { match } : {}),
      };
    }
    if (kind === "call" && s.call) {
      const c = this.y.at(`${path}.call.workflow`);
      this.calls.push({
        workflow: s.call.workflow,
        path: `${path}.call.workflow`,
        line: c.line,
        column: c.column,
      });
    }
    return { ...common, input: this.leafInput(s, kind, path, defaults, scope) };
  }

  /** A leaf step's block, its identity settled, compiled. */
  private leafInput(
    s: StepShape,
    kind: string,
    path: string,
    defaults: WorkflowFileShape["defaults"],
    scope: Scope,
  ): Template {
    const identity = withIdentity(kind, (s as Record<string, unknown>)[kind], defaults?.as);
    const asPath = `${path}.${kind}.as`;
    // An `as` taken from defaults is located (for errors and warnings) where defaults.as is written.
    const locate = (p: string, n: number) => ({
      ...(identity.from === "defaults" && p === asPath
        ? { ...this.locate("defaults.as", n), path: p }
        : this.locate(p, n)),
      names: scope.names,
      itemNames: this.itemNames,
    });
    const compiled = tryCompileTemplate(identity.block, locate, `${path}.${kind}`);
    this.problems.push(...compiled.problems);
    for (const e of compiled.exprs) this.checkRefs(e, scope);
    if (identity.from) {
      this.warnings.push(
        ...identityWarnings({
          file: this.opts.file,
          path,
          kind,
          identity,
          exprs: compiled.exprs.filter((e) => e.path === asPath),
          at: this.y.at(identity.from === "defaults" ? "defaults.as" : asPath),
          pubsub: this.opts.pubsub === true,
        }),
      );
    }
    return compiled.template;
  }

  /** Any value with `${{ }}` inside, compiled for `scope` (the top-level output, a foreach's list). */
  template(v: unknown, path: string, scope: Scope): Template {
    const locate = (p: string, n: number) => ({
      ...this.locate(p, n),
      names: scope.names,
      itemNames: this.itemNames,
    });
    const compiled = tryCompileTemplate(v, locate, path);
    this.problems.push(...compiled.problems);
    for (const e of compiled.exprs) this.checkRefs(e, scope);
    return compiled.template;
  }

  /** wait_for's match needs, at its top `&&`, an `==` between `incoming` alone and the run alone. */
  private checkMatch(e: CompiledExpr, path: string): void {
    if (matchEqualities(e.ast).length > 0) return;
    this.problems.push({
      file: e.file,
      line: e.line,
      column: e.column,
      path,
      message:
        "match needs, joined by && at its top, an == between an expression of incoming alone and one without incoming (e.g. incoming.record.task == event.record._id): waiting runs are found by that value",
    });
  }

  private locate(path: string, nth: number) {
    return { file: this.opts.file, ...this.y.exprAt(path, nth), path };
  }

  /** `if`/`when`/`key`: `${{ expr }}`, a bare CEL expression, or a constant. */
  private condition(v: string | boolean, path: string, scope: Scope): Expr | undefined {
    const text = typeof v === "boolean" ? String(v) : v;
    const { parts, unterminated } = scanExpressions(text);
    const exprs = parts.filter((p) => typeof p !== "string");
    const rest = parts.filter((p) => typeof p === "string" && p.trim() !== "");
    if (unterminated !== undefined || (exprs.length > 0 && (exprs.length > 1 || rest.length > 0))) {
      this.problems.push({
        file: this.opts.file,
        ...this.y.at(path),
        path,
        message: "must be one expression: ${{ ... }}",
      });
      return undefined;
    }
    const seg = exprs[0];
    const at = seg ? this.y.exprAt(path, 0) : this.y.at(path);
    const offset = seg ? seg.sourceStart - seg.start : 0;
    const source = seg ? seg.source : text;
    const r = tryCompileExpression(source, {
      file: this.opts.file,
      line: at.line,
      column: at.column + offset,
      path,
      names: scope.names,
      itemNames: this.itemNames,
    });
    this.problems.push(...r.problems);
    if (r.expr) this.checkRefs(r.expr, scope);
    return r.expr;
  }

  private checkRefs(e: CompiledExpr, scope: Scope): void {
    const seen = new Set<string>();
    for (const ref of e.refs) {
      const msg = this.refProblem(ref, scope);
      if (!msg || seen.has(msg)) continue;
      seen.add(msg);
      this.problems.push({ file: e.file, line: e.line, column: e.column, path: e.path ?? "", message: msg });
    }
  }

  private refProblem(ref: ExprRef, scope: Scope): string | undefined {
    if (ref.root === "steps") {
      if (scope.steps === "none") return "steps is not available here: no step has run yet";
      const known = scope.steps.ids.slice(0, scope.steps.upTo);
      if (ref.name !== undefined && !known.includes(ref.name)) {
        return `steps.${ref.name} is not an earlier step's id${known.length ? ` (earlier: ${known.join(", ")})` : " (no earlier step has an id)"}`;
      }
    }
    if (ref.root === "error" && !scope.error) return "error is only available in on_failure steps";
    if (
      ref.root === "env" &&
      ref.name !== undefined &&
      this.opts.envAllow &&
      !this.opts.envAllow.includes(ref.name)
    ) {
      return `env.${ref.name} is not an allowed variable: add it to SKYFLOW_ENV_ALLOW`;
    }
    return undefined;
  }
}

export function retryPolicy(r: RetryShape | undefined): RetryPolicy {
  return {
    attempts: r?.attempts ?? DEFAULT_RETRY.attempts,
    backoff: r?.backoff ?? DEFAULT_RETRY.backoff,
    delayMs: r?.delay === undefined ? DEFAULT_RETRY.delayMs : parseDuration(r.delay),
    maxDelayMs: r?.max_delay === undefined ? DEFAULT_RETRY.maxDelayMs : parseDuration(r.max_delay),
    jitter: r?.jitter ?? DEFAULT_RETRY.jitter,
    ...(r?.on ? { on: r.on } : {}),
  };
}

/**
 * The equalities of a wait_for match that find its waiting runs: the `==` terms at its top `&&` with
 * `incoming` alone on one side and no `incoming` on the other, as [incoming side, run side].
 */
export function matchEqualities(ast: AstNode): { incoming: AstNode; run: AstNode }[] {
  const terms: AstNode[] = [];
  const conj = (n: AstNode): void => {
    if (n.op === "&&" && Array.isArray(n.args)) for (const a of n.args as AstNode[]) conj(a);
    else terms.push(n);
  };
  conj(ast);
  const out: { incoming: AstNode; run: AstNode }[] = [];
  for (const t of terms) {
    if (t.op !== "==" || !Array.isArray(t.args)) continue;
    const [l, r] = t.args as [AstNode, AstNode];
    const side = (n: AstNode) => {
      const roots = new Set(collectRefs(n).map((x) => x.root));
      return roots.has("incoming") ? (roots.size === 1 ? "incoming" : "mixed") : "run";
    };
    const sl = side(l);
    const sr = side(r);
    if (sl === "incoming" && sr === "run") out.push({ incoming: l, run: r });
    else if (sr === "incoming" && sl === "run") out.push({ incoming: r, run: l });
  }
  return out;
}
