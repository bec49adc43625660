/** Runs `count` attempts of `task`, at most `limit` at a time; counts successes and failures. */
export async function runWithConcurrency(
  count: number,
  limit: number,
  task: (index: number) => Promise<void>,
): Promise<{ ok: number; failed: number; firstError?: string }> {
  let next = 0;
  let ok = 0;
  let failed = 0;
  let firstError: string | undefined;
  const worker = async (): Promise<void> => {
    while (next < count) {
      const index = next++;
      try {
        await task(index);
        ok += 1;
      } catch (err) {
        failed += 1;
        firstError ??= (err as Error).message;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, count) }, worker));
  return firstError === undefined ? { ok, failed } : { ok, failed, firstError };
}
