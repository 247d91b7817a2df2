// Client-side navigation between the dashboard's pages: links are ordinary <a href>s (so they open in a new
// tab, and work by keyboard); a plain click on one of ours is turned into a history push.
import { useEffect, useState } from "preact/hooks";
import { base } from "./api.js";

export type Route =
  | { page: "overview" }
  | { page: "run"; id: string }
  | { page: "workflow"; name: string }
  | { page: "dev" }
  | { page: "missing" };

export function parseRoute(pathname: string): Route {
  const path = pathname.startsWith(base) ? pathname.slice(base.length) || "/" : pathname;
  if (path === "/") return { page: "overview" };
  if (path === "/dev") return { page: "dev" };
  const run = /^\/runs\/([^/]+)$/.exec(path);
  if (run) return { page: "run", id: decodeURIComponent(run[1]!) };
  const wf = /^\/workflows\/([^/]+)$/.exec(path);
  if (wf) return { page: "workflow", name: decodeURIComponent(wf[1]!) };
  return { page: "missing" };
}

export const href = {
  overview: () => `${base}/`,
  run: (id: string) => `${base}/runs/${encodeURIComponent(id)}`,
  workflow: (name: string) => `${base}/workflows/${encodeURIComponent(name)}`,
  dev: () => `${base}/dev`,
};

export function navigate(url: string): void {
  history.pushState(null, "", url);
  dispatchEvent(new PopStateEvent("popstate"));
}

export function useRoute(): { route: Route; search: URLSearchParams } {
  const read = () => ({ route: parseRoute(location.pathname), search: new URLSearchParams(location.search) });
  const [state, setState] = useState(read);
  useEffect(() => {
    const onPop = () => {
      setState(read());
      window.scrollTo(0, 0);
    };
    const onClick = (e: MouseEvent) => {
      if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
      const a = (e.target as Element).closest("a");
      if (!a || a.target || a.origin !== location.origin || !a.pathname.startsWith(base)) return;
      if (parseRoute(a.pathname).page === "missing") return;
      e.preventDefault();
      navigate(a.pathname + a.search);
    };
    addEventListener("popstate", onPop);
    document.addEventListener("click", onClick);
    return () => {
      removeEventListener("popstate", onPop);
      document.removeEventListener("click", onClick);
    };
  }, []);
  return state;
}
