// Awaits a call that must fail with a SkygearError, and checks that no key or token went with the error
// (message, info, cause or stack).
import { expect } from "vitest";
import { SkygearError } from "../../src/skygear/errors.js";

export async function scrubbedRejection(p: Promise<unknown>, secrets: string[]): Promise<SkygearError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(SkygearError);
  const e = err as SkygearError;
  const text = `${e.message} ${JSON.stringify(e.info)} ${String(e.cause)} ${e.stack}`;
  for (const s of secrets) expect(text).not.toContain(s);
  return e;
}
