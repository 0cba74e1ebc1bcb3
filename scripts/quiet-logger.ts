/**
 * A logger for bundleWorkflowCode in the test harness and the chaos soak: webpack's progress notes
 * dropped, its warnings and errors kept, so their output stays the run's own.
 */
export const quietLogger = {
  log: () => undefined,
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: (message: string) => console.warn(message),
  error: (message: string) => console.error(message),
};
