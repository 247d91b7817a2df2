// Waiting for something that may never settle (a statement across a network partition), for at most a while.

/** Resolves when `p` settles (either way) or after `ms`, whichever comes first. */
export async function settledWithin(p: Promise<unknown> | undefined, ms: number): Promise<void> {
  let t: NodeJS.Timeout | undefined;
  await Promise.race([
    Promise.resolve(p).then(
      () => {},
      () => {},
    ),
    new Promise<void>((r) => {
      t = setTimeout(r, ms);
    }),
  ]);
  clearTimeout(t);
}
