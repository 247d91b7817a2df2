// Who may use the dashboard. Under `skyflow dev`, a request from loopback naming a loopback host needs no
// credential (the host check keeps a DNS-rebound web page out). Otherwise: `Authorization: Bearer <secret>`,
// or the session cookie that /login sets, an HMAC of an expiry keyed by a digest of the secret (the master
// key or SKYFLOW_DASHBOARD_TOKEN), never the secret itself. Comparisons are constant-time.
import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";

export const SESSION_COOKIE = "skyflow_session";
const SESSION_MS = 12 * 60 * 60 * 1000;
/** Failed logins allowed per window before /login answers 429 (guessing a 16+ character token is hopeless). */
const FAILURES_PER_WINDOW = 20;
const FAILURE_WINDOW_MS = 60_000;

export type Via = "loopback" | "bearer" | "session";

export interface AccessOptions {
  /** `skyflow dev`: requests from loopback need no credential. */
  openOnLoopback: boolean;
  /** The secrets that open the dashboard (master key, dashboard token); kept only as digests. */
  secrets: string[];
  now?: () => number;
}

export class DashboardAccess {
  readonly openOnLoopback: boolean;
  /** sha256 of each secret: compared with the digest of what a request offers (equal lengths). */
  private readonly digests: Buffer[];
  /** Per secret, the key its session cookies are signed with. */
  private readonly sessionKeys: Buffer[];
  private readonly now: () => number;
  private failures: number[] = [];

  constructor(opts: AccessOptions) {
    this.openOnLoopback = opts.openOnLoopback;
    const secrets = opts.secrets.filter((s) => s.length > 0);
    this.digests = secrets.map((s) => digest(s));
    this.sessionKeys = secrets.map((s) =>
      createHash("sha256").update(`skyflow-dashboard-session\0${s}`).digest(),
    );
    this.now = opts.now ?? Date.now;
  }

  /** How the request is allowed in, or undefined when it is not. */
  check(req: IncomingMessage): Via | undefined {
    if (this.openOnLoopback && isLoopbackRequest(req)) return "loopback";
    const auth = req.headers.authorization;
    if (auth?.startsWith("Bearer ")) return this.matches(auth.slice(7).trim()) ? "bearer" : undefined;
    const session = readCookie(req, SESSION_COOKIE);
    if (session && this.validSession(session)) return "session";
    return undefined;
  }

  /** A session cookie value for a correct token; undefined otherwise (and the failure is counted). */
  login(token: string): string | undefined {
    const i = this.digests.findIndex((d) => timingSafeEqual(d, digest(token)));
    if (i < 0) {
      this.failures.push(this.now());
      return undefined;
    }
    const expires = Math.floor((this.now() + SESSION_MS) / 1000);
    return `s1.${expires}.${sign(this.sessionKeys[i]!, expires)}`;
  }

  /** True while too many logins failed lately: /login refuses to check more. */
  throttled(): boolean {
    const since = this.now() - FAILURE_WINDOW_MS;
    this.failures = this.failures.filter((t) => t > since);
    return this.failures.length >= FAILURES_PER_WINDOW;
  }

  sessionMaxAgeSeconds(): number {
    return SESSION_MS / 1000;
  }

  private matches(token: string): boolean {
    const d = digest(token);
    // Every digest is compared, so the time taken does not say which secret (if any) matched.
    let ok = false;
    for (const s of this.digests) ok = timingSafeEqual(s, d) || ok;
    return ok;
  }

  private validSession(value: string): boolean {
    const m = /^s1\.(\d{1,12})\.([A-Za-z0-9_-]{43})$/.exec(value);
    if (!m) return false;
    const expires = Number(m[1]);
    if (expires * 1000 <= this.now()) return false;
    // Compare the text, not the decoded bytes: the last of 43 base64url characters carries two spare bits,
    // so four spellings decode to the same signature and a changed cookie would still pass.
    const given = Buffer.from(m[2]!, "latin1");
    let ok = false;
    for (const key of this.sessionKeys)
      ok = timingSafeEqual(Buffer.from(sign(key, expires), "latin1"), given) || ok;
    return ok;
  }
}

/**
 * A request that changes something must come from our own page, not a form or script of another site: its
 * Origin names this host, and (unless it carries a bearer token, which browsers never add by themselves)
 * it is JSON, which a cross-site form cannot send without a preflight we never answer.
 */
export function sameOriginAction(req: IncomingMessage, via: Via, opts: { form?: boolean } = {}): boolean {
  if (via === "bearer") return true;
  const origin = req.headers.origin;
  const host = req.headers.host;
  if (!origin || !host) return false;
  let o: URL;
  try {
    o = new URL(origin);
  } catch {
    return false;
  }
  if (o.host !== host) return false;
  if (opts.form) return true;
  return (req.headers["content-type"] ?? "").split(";")[0]!.trim() === "application/json";
}

/** Secure too when the browser reached us over HTTPS (through a proxy that says so). */
export function sessionCookieHeader(value: string, maxAgeSeconds: number, req?: IncomingMessage): string {
  const secure = req?.headers["x-forwarded-proto"] === "https" ? "; Secure" : "";
  return `${SESSION_COOKIE}=${value}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAgeSeconds}${secure}`;
}

/** From loopback, and addressed to a loopback name (a rebound DNS name would arrive with its own Host). */
export function isLoopbackRequest(req: IncomingMessage): boolean {
  const addr = req.socket.remoteAddress ?? "";
  const fromLoopback = addr === "::1" || /^(::ffff:)?127\./.test(addr);
  return fromLoopback && isLoopbackHost(req.headers.host);
}

function isLoopbackHost(host: string | undefined): boolean {
  if (!host) return false;
  let name: string;
  try {
    name = new URL(`http://${host}`).hostname;
  } catch {
    return false;
  }
  return name === "localhost" || name === "[::1]" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(name);
}

function readCookie(req: IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? "").split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

const digest = (s: string) => createHash("sha256").update(s).digest();

function sign(key: Buffer, expires: number): string {
  return createHmac("sha256", key).update(`s1.${expires}`).digest("base64url");
}
