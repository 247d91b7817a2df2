// What a jsonb column cannot hold: the NUL character, and half of a UTF-16 surrogate pair without its other
// half. A step's output (an HTTP body, say) may carry either; saved as it was, the run's save failed on every
// try, the run was given up and began again, and ran its step again, for ever. Such characters become U+FFFD,
// in the run's memory as in the database, so later steps see what a resumed run will read back.

// ES2024 string methods (Node 20 has them; the project's TypeScript lib is ES2023).
type WellFormed = string & { isWellFormed(): boolean; toWellFormed(): string };

function storableText(s: string): string {
  const w = s as WellFormed;
  if (!s.includes("\u0000") && w.isWellFormed()) return s;
  return w.toWellFormed().replaceAll("\u0000", "\uFFFD");
}

/** `value` with every string (and object key) storable in jsonb; parts that need no change are shared. */
export function storable(value: unknown): unknown {
  if (typeof value === "string") return storableText(value);
  if (Array.isArray(value)) {
    let out: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const r = storable(value[i]);
      if (r === value[i]) continue;
      out ??= value.slice();
      out[i] = r;
    }
    return out ?? value;
  }
  if (value !== null && typeof value === "object" && Object.getPrototypeOf(value) === Object.prototype) {
    const obj = value as Record<string, unknown>;
    let out: Record<string, unknown> | undefined;
    for (const k of Object.keys(obj)) {
      const v = obj[k];
      const r = storable(v);
      const key = storableText(k);
      if (r === v && key === k) continue;
      out ??= { ...obj };
      if (key !== k) delete out[k];
      out[key] = r;
    }
    return out ?? value;
  }
  return value;
}
