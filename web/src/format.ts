// Text for the dashboard: short run ids as the logs print them, durations, times. No I/O, no DOM.

/** The first 8 characters, as `skyflow dev` prints a run in its log lines. */
export function shortId(id: string): string {
  return id.slice(0, 8);
}

export function duration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || Number.isNaN(ms)) return "–";
  if (ms < 1000) return `${Math.max(0, Math.round(ms))}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)}s`;
  const s = Math.round(ms / 1000);
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  const m = Math.round(s / 60);
  if (m < 48 * 60) return `${Math.floor(m / 60)}h ${m % 60}m`;
  return `${Math.floor(m / 1440)}d ${Math.floor((m % 1440) / 60)}h`;
}

/** From one ISO time to another (or to `now` while it is still going). */
export function between(from: string | null, to: string | null, now: number): number | null {
  if (!from) return null;
  return (to ? Date.parse(to) : now) - Date.parse(from);
}

/** `2026-05-01 14:03:07` in the viewer's time zone. */
export function localTime(iso: string | null | undefined): string {
  if (!iso) return "–";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "–";
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

export function ago(iso: string | null | undefined, now: number): string {
  if (!iso) return "never";
  const ms = now - Date.parse(iso);
  if (ms < 0) return `in ${duration(-ms)}`;
  if (ms < 5000) return "just now";
  return `${duration(ms).split(" ")[0]} ago`;
}

/** Status names shown as they are; these finished for good. */
export function finished(status: string): boolean {
  return status === "succeeded" || status === "failed" || status === "cancelled";
}

export function cancellable(status: string): boolean {
  return status === "pending" || status === "running" || status === "waiting" || status === "sleeping";
}

export function retryable(status: string): boolean {
  return status === "failed" || status === "cancelled";
}
