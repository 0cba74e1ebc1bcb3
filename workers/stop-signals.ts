/**
 * SIGINT/SIGTERM for a worker process. Until its worker runs (bundling or connecting takes
 * seconds), a stop signal simply ends the process; once it runs, the SDK's own handlers drain it
 * and `worker.run()` returns. `signal` tells the activities to wind down either way.
 */
export function handleStopSignals(): { signal: AbortSignal; running(): void } {
  let running = false;
  const stopping = new AbortController();
  const exitIfNotRunning = () => {
    stopping.abort();
    if (!running) process.exit(0);
  };
  process.on('SIGINT', exitIfNotRunning);
  process.on('SIGTERM', exitIfNotRunning);
  return { signal: stopping.signal, running: () => void (running = true) };
}
