/**
 * Stopping what a scenario started when the bench itself is stopped (SIGINT, SIGTERM): Node's default
 * exits at once, skipping every `finally`, and would leave detached workers and namespaces behind.
 */
import { log } from './util';

const EXIT_CODES: Record<string, number> = { SIGINT: 130, SIGTERM: 143 };

/**
 * While armed, SIGINT or SIGTERM runs `stop` and then exits (130 or 143); a second signal while it
 * runs exits at once. Returns the disarm function (call it once the scenario has stopped on its own).
 */
export function onInterrupt(what: string, stop: () => Promise<void>): () => void {
  let signalled = false;
  const handler = (signal: NodeJS.Signals) => {
    if (signalled) {
      log(`${what}: ${signal} again, exiting without waiting`);
      process.exit(EXIT_CODES[signal] ?? 1);
    }
    signalled = true;
    log(`${what}: ${signal}, stopping what it started (again to exit at once)`);
    void stop()
      .catch((err: Error) => log(`${what}: stopping failed: ${err.message}`))
      .finally(() => process.exit(EXIT_CODES[signal] ?? 1));
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return () => {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
  };
}
