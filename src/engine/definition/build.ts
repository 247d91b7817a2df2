// A schema-valid workflow file -> WorkflowDefinition: defaults applied, expressions compiled, and every
// expression's references checked (earlier steps only, `error` only in on_failure, allowed env names). No I/O.
import type { Problem } from "../../errors.js";
import type { RawProblem } from "./check-schema.js";
import { kindOf } from "./checks.js";
import type { CompiledExpr, ExprRef } from "./expr.js";
import { tryCompileExpression } from "./expr.js";
import { identityWarnings, withIdentity } from "./identity.js";
import type { RetryShape, StepShape, TriggerShape, WorkflowFileShape } from "./schema.js";
import { scanExpressions, tryCompileTemplate } from "./template.js";
import type { Expr, RetryPolicy, StepDefinition, TriggerDefinition } from "./types.js";
import type { ParsedYaml } from "./yaml.js";

export const DEFAULT_RETRY: RetryPolicy = {
  attempts: 3,
  backoff: "exponential",
  delayMs: 1000,
  maxDelayMs: 30_000,
  jitter: true,
};
export const DEFAULT_TIMEOUT_MS = 30_000;

/** `250ms`, `10s`, `5m`, `1h` or a number of milliseconds. */
export function parseDuration(v: string | number): number {
  if (typeof v === "number") return v;
  const m = /^(\d+)(ms|s|m|h|d)$/.exec(v);
  if (!m) throw new Error(`invalid duration ${v}`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[
    m[2] as "ms" | "s" | "m" | "h" | "d"
  ];
  return Number(m[1]) * unit;
}

export interface BuildOptions {
  file: string;
  envAllow?: string[];
  /** The workflow has a pubsub trigger (for the warning on `as:` read from a message). */
  pubsub?: boolean;
}

/** Which references an expression may make where it is written. */
interface Scope {
  /** The step ids an expression may read: the first `upTo` of `ids` (no per-step copies: files may be long). */
  steps: "none" | { ids: string[]; upTo: number };
  error: boolean;
}

export class Builder {
  readonly problems: Problem[] = [];
  /** Allowed but worth a look: steps acting as master or as a user named by a pubsub message. */
  readonly warnings: Problem[] = [];
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
    const none: Scope = { steps: "none", error: false };
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
        : this.condition(c.key, "concurrency.key", { steps: "none", error: false });
    return { limit: c.limit, ...(key ? { key } : {}) };
  }

  steps(
    list: StepShape[],
    which: "steps" | "on_failure",
    defaults: WorkflowFileShape["defaults"],
    main: string[],
  ): StepDefinition[] {
    let earlier = 0;
    return list.map((s, i) => {
      const path = `${which}[${i}]`;
      const scope: Scope =
        which === "steps"
          ? { steps: { ids: main, upTo: earlier }, error: false }
          : { steps: { ids: main, upTo: main.length }, error: true };
      const kind = kindOf(s as Record<string, unknown>) ?? "unknown";
      const identity = withIdentity(kind, (s as Record<string, unknown>)[kind], defaults?.as);
      const asPath = `${path}.${kind}.as`;
      // An `as` taken from defaults is located (for errors and warnings) where defaults.as is written.
      const locate = (p: string, n: number) =>
        identity.from === "defaults" && p === asPath
          ? { ...this.locate("defaults.as", n), path: p }
          : this.locate(p, n);
      // wait_for's match reads `incoming`: compiled apart, evaluated only as events arrive (src/engine/park).
      const waitBlock = kind === "wait_for" ? (identity.block as Record<string, unknown>) : undefined;
      const block = waitBlock ? { ...waitBlock, match: undefined } : identity.block;
      const compiled = tryCompileTemplate(block, locate, `${path}.${kind}`);
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
      const cond = s.if === undefined ? undefined : this.condition(s.if, `${path}.if`, scope);
      const match =
        typeof waitBlock?.match === "string"
          ? this.condition(waitBlock.match, `${path}.wait_for.match`, scope)
          : undefined;
      if (s.id) earlier++;
      const at = this.y.at(path);
      return {
        ...(s.id ? { id: s.id } : {}),
        key: s.id ?? path,
        name: s.name ?? kind,
        kind,
        input: compiled.template,
        ...(cond ? { if: cond } : {}),
        ...(match ? { match } : {}),
        retry: retryPolicy({ ...defaults?.retry, ...s.retry }),
        timeoutMs: parseDuration(s.timeout ?? defaults?.timeout ?? DEFAULT_TIMEOUT_MS),
        continueOnError: s.continue_on_error ?? false,
        line: at.line,
        column: at.column,
      };
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
