// Waiting for a condition instead of for a fixed time: a test moves on as soon as what it waits for is true,
// and fails (naming what it waited for) when that never happens, however slow or loaded the machine.

/** Resolves once `cond` holds, checking every 10 ms; rejects after `ms` (default 20 s). */
export async function waitFor(
  cond: () => boolean | Promise<boolean>,
  ms = 20_000,
  what = "condition",
): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`${what} not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
