// The client's side of the dashboard API: JSON reads, actions (same-origin JSON POSTs, which is what the
// server's CSRF check asks for), and the one live event stream every page listens to.
import { useEffect, useRef, useState } from "preact/hooks";

export const base = document.querySelector<HTMLMetaElement>('meta[name="skyflow-base"]')?.content ?? "";
export const mode = document.querySelector<HTMLMetaElement>('meta[name="skyflow-mode"]')?.content ?? "start";

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export async function getJson<T>(path: string): Promise<T> {
  const res = await fetch(base + path, {
    headers: { accept: "application/json" },
    credentials: "same-origin",
  });
  if (res.status === 401) {
    location.assign(
      `${base}/login?next=${encodeURIComponent(location.pathname.slice(base.length) + location.search)}`,
    );
  }
  if (!res.ok)
    throw new HttpError(
      res.status,
      ((await res.json().catch(() => ({}))) as { error?: string }).error ?? res.statusText,
    );
  return (await res.json()) as T;
}

export async function postAction(path: string): Promise<string> {
  const res = await fetch(base + path, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json" },
    body: "{}",
    credentials: "same-origin",
  });
  const body = (await res.json().catch(() => ({}))) as { message?: string; error?: string };
  if (!res.ok) throw new HttpError(res.status, body.error ?? res.statusText);
  return body.message ?? "done";
}

export interface RunChange {
  id: string;
  workflow: string;
  status: string;
}

export type LiveEvent =
  | { type: "runs"; runs: RunChange[] }
  | { type: "workflows" }
  | { type: "dev" }
  | { type: "reconnected" };

type Listener = (e: LiveEvent) => void;
const listeners = new Set<Listener>();
let source: EventSource | undefined;
let connected = false;
const stateListeners = new Set<(up: boolean) => void>();

function connect(): void {
  source = new EventSource(`${base}/api/events`);
  source.addEventListener("open", () => {
    if (!connected) {
      connected = true;
      for (const l of stateListeners) l(true);
      for (const l of listeners) l({ type: "reconnected" });
    }
  });
  source.addEventListener("error", () => {
    connected = false;
    for (const l of stateListeners) l(false);
  });
  source.addEventListener("runs", (e) =>
    emit({ type: "runs", runs: (JSON.parse((e as MessageEvent).data) as { runs: RunChange[] }).runs }),
  );
  source.addEventListener("workflows", () => emit({ type: "workflows" }));
  source.addEventListener("dev", () => emit({ type: "dev" }));
}

function emit(e: LiveEvent): void {
  for (const l of listeners) l(e);
}

export function onLive(l: Listener): () => void {
  if (!source) connect();
  listeners.add(l);
  return () => listeners.delete(l);
}

/** Whether the live stream is connected, for the header's indicator. */
export function useConnected(): boolean {
  const [up, setUp] = useState(connected);
  useEffect(() => {
    if (!source) connect();
    stateListeners.add(setUp);
    return () => void stateListeners.delete(setUp);
  }, []);
  return up;
}

export interface Loaded<T> {
  data?: T;
  error?: string;
  reload(): void;
}

/**
 * Fetches `path`, and again (at most every 100 ms) when a live event passes `relevant` or the stream comes
 * back after a drop. The data shown stays until the new answer replaces it: no flicker.
 */
export function useLive<T>(path: string, relevant: (e: LiveEvent) => boolean): Loaded<T> {
  const [state, setState] = useState<{ data?: T; error?: string }>({});
  const relevantRef = useRef(relevant);
  relevantRef.current = relevant;
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let alive = true;
    let timer: number | undefined;
    let inFlight = false;
    let again = false;
    const load = () => {
      if (inFlight) {
        again = true;
        return;
      }
      inFlight = true;
      getJson<T>(path)
        .then(
          (data) => alive && setState({ data }),
          (err: Error) => alive && setState((s) => ({ ...s, error: err.message })),
        )
        .finally(() => {
          inFlight = false;
          if (again && alive) {
            again = false;
            load();
          }
        });
    };
    load();
    const off = onLive((e) => {
      if (e.type !== "reconnected" && !relevantRef.current(e)) return;
      if (timer !== undefined) return;
      timer = window.setTimeout(() => {
        timer = undefined;
        load();
      }, 100);
    });
    return () => {
      alive = false;
      off();
      clearTimeout(timer);
    };
  }, [path, tick]);
  return { ...state, reload: () => setTick((t) => t + 1) };
}

/** The current time, updated every second while something on the page is still running. */
export function useNow(active: boolean): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    if (!active) return;
    const t = window.setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(t);
  }, [active]);
  return active ? now : Date.now();
}
