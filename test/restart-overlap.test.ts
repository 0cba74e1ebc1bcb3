/**
 * Two restarts of one component at once in one worker: two attempts of one activity can overlap
 * there (the server timed the first out after a late heartbeat and handed the retry to the same
 * worker while the first went on). The chaos soak caught the retry stopping the process the first
 * had just started, and starting another. Real processes (the demo service), the real process
 * adapter; the retry's stop is slowed so that the first attempt's start falls inside it.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MockActivityEnvironment } from '@temporalio/testing';
import { restartProcess, type RestartParts, type RestartResult } from '../activities/restart';
import { loadConfigFile } from '../client/config';
import { startAdapter, stopAdapter } from '../domain/adapters';
import { processAdapter, runningProcess, stopProcess } from '../domain/adapters/process';
import { probeComponent } from '../domain/probes';
import { tempDir, writeDemoConfig } from './helpers';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

describe('two restarts of one component at once in one worker', () => {
  test('the second waits for the first and finds its process: one spawn, nothing stopped', async () => {
    const dir = tempDir('restart-overlap');
    const { file } = await writeDemoConfig(dir, [{ id: `overlap-${Date.now().toString(36)}` }]);
    const c = loadConfigFile(file, { stateDir: `${dir}/.mend` }).components[0]!;
    const parts: RestartParts = {
      probe: probeComponent,
      stop: (component, beat) => stopAdapter(component, beat),
      start: (component, beat) => startAdapter(component, beat),
      waitHealthy: () => Promise.reject(new Error('validation is off in this test')),
    };
    // The retry's stop takes a while to begin: the first attempt starts the process meanwhile.
    const slowStop: RestartParts = { ...parts, stop: (component, beat) => sleep(500).then(() => parts.stop(component, beat)) };
    const input = { component: c, cleanup: false, runKey: 'overlap' };
    try {
      await startAdapter(c);
      const old = (await runningProcess(processAdapter(c)))!;
      process.kill(old.pid, 'SIGKILL');
      const scheduledTimestampMs = Date.now();
      const retry = new MockActivityEnvironment({ attempt: 2, scheduledTimestampMs }).run(restartProcess, slowStop, input);
      const first = new MockActivityEnvironment({ attempt: 1, scheduledTimestampMs }).run(restartProcess, parts, input);
      const [a, b] = (await Promise.all([first, retry])) as [RestartResult, RestartResult];
      const running = (await runningProcess(processAdapter(c)))!;
      const starts = [a, b].map((r) => r.steps.find((st) => st.name === 'start')!.detail);
      assert.deepEqual(
        starts.filter((d) => /^started pid \d+$/.test(d)),
        [`started pid ${running.pid}`],
        `one spawn, of the process that runs; the other restart found it: ${starts.join(' / ')}`,
      );
      assert.ok(
        starts.some((d) => d.startsWith(`started pid ${running.pid} (by another restart of it in this worker`)),
        starts.join(' / '),
      );
      const stops = [a, b].flatMap((r) => r.steps.filter((st) => st.name === 'stop').map((st) => st.detail));
      assert.ok(!stops.some((d) => /stopped/.test(d)), `nothing stopped (the killed process was gone already): ${stops.join(' / ')}`);
    } finally {
      await stopProcess(processAdapter(c));
    }
  });
});
