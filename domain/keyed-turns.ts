/**
 * One at a time per key, in this process: work under a key waits for the work queued before it
 * under that key (whatever way that ended), then runs. The process adapter's starts and the
 * one-activity restarts take turns so by pid file.
 */
export interface KeyedTurns {
  /** Runs `work` in its turn under `key`; `waited` says whether other work held the key when it asked. */
  run<T>(key: string, work: (waited: boolean) => Promise<T>): Promise<T>;
  /** Whether work runs or waits under `key` now. */
  busy(key: string): boolean;
}

export function createKeyedTurns(): KeyedTurns {
  const last = new Map<string, Promise<unknown>>();
  return {
    async run<T>(key: string, work: (waited: boolean) => Promise<T>): Promise<T> {
      const before = last.get(key);
      const mine = (before ?? Promise.resolve()).catch(() => undefined).then(() => work(before !== undefined));
      last.set(key, mine);
      try {
        return await mine;
      } finally {
        if (last.get(key) === mine) last.delete(key);
      }
    },
    busy: (key) => last.has(key),
  };
}
