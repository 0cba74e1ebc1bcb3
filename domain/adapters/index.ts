/**
 * One entry point for acting on a component, whatever its adapter: the activities call these.
 * Each adapter's own functions say why running them twice is safe.
 */
import type { Component, ProcessAdapter } from '../../core/schemas';
import { restartCommand, startCommand, stopCommand } from './command';
import { restartHttp, startHttp, stopHttp } from './http';
import { AdapterError, type StartOutcome, type StopOutcome } from './outcome';
import { CommandNotFoundError, deathOf, startProcess, stopProcess } from './process';

export { AdapterError, type StartOutcome, type StopOutcome } from './outcome';

/** Stops the component; `heartbeat` is called while waiting (process exit, a running command). */
export async function stopAdapter(component: Component, heartbeat?: () => void): Promise<StopOutcome> {
  const adapter = component.adapter;
  switch (adapter.type) {
    case 'process':
      return stopProcessAdapter(adapter, heartbeat);
    case 'command':
      return stopCommand(adapter, heartbeat);
    case 'http':
      return stopHttp(adapter);
  }
}

/** Starts the component, or reports that it already runs (started: false). */
export async function startAdapter(component: Component, heartbeat?: () => void): Promise<StartOutcome> {
  const adapter = component.adapter;
  switch (adapter.type) {
    case 'process':
      return startProcessAdapter(adapter);
    case 'command':
      return startCommand(adapter, heartbeat);
    case 'http':
      return startHttp(adapter);
  }
}

/** command: the `restart` argv if set, else stop + start; http: the restart call; process: stop + start. */
export async function restartAdapter(component: Component, heartbeat?: () => void): Promise<StartOutcome> {
  const adapter = component.adapter;
  switch (adapter.type) {
    case 'process':
      await stopProcessAdapter(adapter, heartbeat);
      return startProcessAdapter(adapter);
    case 'command':
      return restartCommand(adapter, heartbeat);
    case 'http':
      return restartHttp(adapter);
  }
}

async function stopProcessAdapter(adapter: ProcessAdapter, heartbeat?: () => void): Promise<StopOutcome> {
  const outcome = await stopProcess(adapter, heartbeat);
  const detail = outcome.stopped ? `stopped pid ${outcome.pid}${outcome.forced ? ' with SIGKILL' : ''}` : 'not running';
  return { ...outcome, detail };
}

async function startProcessAdapter(adapter: ProcessAdapter): Promise<StartOutcome> {
  try {
    const outcome = await startProcess(adapter);
    const detail = outcome.started ? `started pid ${outcome.pid}` : `already running as pid ${outcome.pid}`;
    // Watching the pid starts here: one that is gone already fails the start step (validate then sees it too).
    const death = await deathOf(adapter);
    return death ? { ...outcome, detail, died: { failureClass: death.failureClass, detail: death.detail } } : { ...outcome, detail };
  } catch (err) {
    if (err instanceof CommandNotFoundError) throw new AdapterError(err.message, 'resource', false);
    throw err;
  }
}
