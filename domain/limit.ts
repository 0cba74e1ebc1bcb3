/**
 * A counting semaphore for work an activity fans out (probes, signals): at most `max` run at once,
 * the rest wait their turn in order. A probe's timeout starts when the probe does, so a worker
 * flooded with thousands of simultaneous probes no longer times its own probes out.
 */
export type Limiter = <T>(work: () => Promise<T>) => Promise<T>;

export function createLimiter(max: number): Limiter {
  if (!Number.isInteger(max) || max < 1) throw new RangeError(`limiter: max must be a positive integer, got ${max}`);
  let running = 0;
  const waiting: Array<() => void> = [];
  const release = () => {
    running--;
    waiting.shift()?.();
  };
  return async <T>(work: () => Promise<T>): Promise<T> => {
    if (running >= max) await new Promise<void>((resume) => waiting.push(resume));
    running++;
    try {
      return await work();
    } finally {
      release();
    }
  };
}
