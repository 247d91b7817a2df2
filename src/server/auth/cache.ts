// A short-lived cache of `_auth` rows (with roles) for master-key requests, which otherwise read `_auth` on
// every call: the engine impersonates users with `_user_id` on each step. Token requests never use it, so
// logout and revocation take effect at once; role or disabled changes reach impersonated calls within ttlMs.
import type { AuthRow } from "./store.js";

export type CachedAuth = AuthRow & { roles: string[] };

export class AuthCache {
  private readonly entries = new Map<string, { at: number; value: CachedAuth }>();

  constructor(
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
    private readonly max = 10_000,
  ) {}

  get(id: string): CachedAuth | undefined {
    const e = this.entries.get(id);
    if (!e) return undefined;
    if (this.now() - e.at >= this.ttlMs) {
      this.entries.delete(id);
      return undefined;
    }
    return e.value;
  }

  set(id: string, value: CachedAuth): void {
    if (this.ttlMs <= 0) return;
    // Map keeps insertion order: dropping the first entry drops the oldest.
    if (this.entries.size >= this.max) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(id, { at: this.now(), value });
  }
}
