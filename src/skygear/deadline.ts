// One call's deadline: the per-call timeout and the caller's AbortSignal folded into one callback, and the
// SkygearError (Timeout or Aborted) that explains why it fired. Shared by both transports. It uses one
// timer and no AbortController, because it sits on every call's hot path.
import { abortedError, type SkygearError, timeoutError } from "./errors.js";
import type { CallOptions } from "./types.js";

export const DEFAULT_TIMEOUT_MS = 30_000;

function fireTimeout(d: Deadline): void {
  d.fire("timeout");
}

export class Deadline {
  private reason: "timeout" | "aborted" | undefined;
  private readonly timer: NodeJS.Timeout | undefined;
  private readonly outer: AbortSignal | undefined;
  private readonly timeoutMs: number;
  private listener: ((err: SkygearError) => void) | undefined;

  constructor(
    readonly action: string,
    opts: CallOptions,
  ) {
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.outer = opts.signal;
    if (this.outer?.aborted) {
      this.reason = "aborted";
      return;
    }
    // A timer argument and handleEvent instead of two closures: this object is made for every call.
    this.timer = setTimeout(fireTimeout, this.timeoutMs, this);
    this.outer?.addEventListener("abort", this, { once: true });
  }

  /** Why the deadline fired, as the error to throw; undefined while it has not. */
  failure(): SkygearError | undefined {
    if (this.reason === "timeout") return timeoutError(this.action, this.timeoutMs);
    if (this.reason === "aborted") return abortedError(this.action);
    return undefined;
  }

  /** Calls `fn` once when the deadline fires (at once if it already has). */
  onFire(fn: (err: SkygearError) => void): void {
    const failed = this.failure();
    if (failed) fn(failed);
    else this.listener = fn;
  }

  /** Stops the timer and detaches from the caller's signal; call it in a finally. */
  done(): void {
    this.listener = undefined;
    if (this.timer) clearTimeout(this.timer);
    this.outer?.removeEventListener("abort", this);
  }

  /** The caller's signal fired (EventListener object form). */
  handleEvent(): void {
    this.fire("aborted");
  }

  fire(reason: "timeout" | "aborted"): void {
    if (this.reason) return;
    this.reason = reason;
    const listener = this.listener;
    this.done();
    listener?.(this.failure()!);
  }
}
