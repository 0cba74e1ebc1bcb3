/**
 * The sweep activity on its own (a mock activity context, a recording client): failures are always
 * reported, healthy components only when new, changed, or after a config revision; every report
 * starts the supervisor if needed (signal-with-start) with the component's spec.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Client } from '@temporalio/client';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createSupervisionActivities, type SweepResult } from '../activities/supervision';
import { probeOverlapping } from '../domain/probes/overlapping';
import { parseConfig } from '../core/config';
import type { ProbeResult } from '../core/failure';
import type { Component } from '../core/schemas';
import type { ProbeReport } from '../core/supervision';

const config = parseConfig(
  [
    'version: 1',
    'components:',
    ...['a', 'b'].flatMap((id) => [`  - id: ${id}`, '    adapter: { type: command, start: ["true"], stop: ["true"] }', '    probe: { type: tcp, port: 1 }']),
  ].join('\n'),
  'sweep.yaml',
  { baseDir: '/tmp', stateDir: '/tmp/.mend' },
);
const specs = config.components.map((component) => ({ component }));

describe('health sweep activity', () => {
  test('reports failures every time, healthy components only when something changed', async () => {
    const health = new Map<string, boolean>([
      ['a', true],
      ['b', false],
    ]);
    const probe = async (c: Component): Promise<ProbeResult> =>
      health.get(c.id) ? { healthy: true, detail: 'ok', latencyMs: 1 } : { healthy: false, failureClass: 'network', detail: 'refused', latencyMs: 1 };
    const sent: Array<{ workflowId: string; report: ProbeReport; args: unknown[] }> = [];
    const client: Client = {
      // The activity context binds the client to the activity's cancellation.
      withAbortSignal: (_signal: AbortSignal, fn: () => unknown) => fn(),
      workflow: {
        signalWithStart: async (_type: string, opts: { workflowId: string; signalArgs: [ProbeReport]; args: unknown[] }) => {
          sent.push({ workflowId: opts.workflowId, report: opts.signalArgs[0], args: opts.args });
          return {};
        },
      },
    } as unknown as Client;
    const env = new MockActivityEnvironment({}, { client });
    const { sweepHealth } = createSupervisionActivities(probe);
    const sweep = (revision: string): Promise<SweepResult> => env.run(sweepHealth, { group: 'g', specs, taskQueue: 'q', revision });

    const first = await sweep('r1');
    assert.deepEqual(first.reported.sort(), ['a', 'b'], 'the first sweep reports everyone (supervisors appear)');
    assert.deepEqual(first.unhealthy, ['b']);
    assert.equal(sent.find((s) => s.workflowId === 'mend/supervisor/b')?.report.failureClass, 'network');
    assert.deepEqual((sent[0]!.args[0] as { spec: { component: Component } }).spec.component.id, sent[0]!.workflowId.split('/')[2]);

    assert.deepEqual((await sweep('r1')).reported, ['b'], 'a healthy, unchanged component is not reported again; a failing one is');
    health.set('b', true);
    assert.deepEqual((await sweep('r1')).reported, ['b'], 'a change to healthy is reported');
    assert.deepEqual((await sweep('r1')).reported, [], 'nothing changed, nothing failing: no signal at all');
    assert.deepEqual((await sweep('r2')).reported.sort(), ['a', 'b'], 'a new config revision reports everyone once');
    assert.ok(sent.every((s) => s.report.source === 'sweep' && !Number.isNaN(Date.parse(s.report.checkedAt))));
  });
});

describe('overlapping probes of a slow component', () => {
  const component = { ...config.components[0]!, supervision: { ...config.components[0]!.supervision, failuresBeforeRecovery: 3, confirmInterval: 50 } };
  const after = (ms: number, result: ProbeResult) => new Promise<ProbeResult>((r) => setTimeout(() => r(result), ms));
  const failed: ProbeResult = { healthy: false, failureClass: 'timeout', detail: 'no answer', latencyMs: 300 };

  test('a hang is confirmed by probes started while the first is still waiting, in about one timeout', async () => {
    let calls = 0;
    const t0 = Date.now();
    const { result, failures } = await probeOverlapping(component, () => (calls++, after(300, failed)));
    const took = Date.now() - t0;
    assert.equal(failures, 3);
    assert.equal(calls, 3);
    assert.equal(result.failureClass, 'timeout');
    assert.ok(took < 600, `three 300-ms timeouts overlapped (took ${took}ms, in turn it would be 900ms+)`);
  });

  test('a fast failure answers at once with one failure; a healthy answer wins', async () => {
    let calls = 0;
    const fast = await probeOverlapping(component, () => (calls++, after(1, { ...failed, failureClass: 'network' })));
    assert.deepEqual([fast.failures, calls], [1, 1]);
    let n = 0;
    const slowThenHealthy = await probeOverlapping(component, () =>
      n++ === 0 ? after(300, failed) : after(10, { healthy: true, detail: 'ok', latencyMs: 10 }),
    );
    assert.equal(slowThenHealthy.failures, 0);
    assert.equal(slowThenHealthy.result.healthy, true);
  });
});

describe('a big sweep on one worker', () => {
  const many = parseConfig(
    [
      'version: 1',
      'components:',
      ...Array.from({ length: 60 }, (_, i) => [
        `  - id: m${i}`,
        '    adapter: { type: command, start: ["true"], stop: ["true"] }',
        '    probe: { type: tcp, port: 1 }',
      ]).flat(),
    ].join('\n'),
    'many.yaml',
    { baseDir: '/tmp', stateDir: '/tmp/.mend' },
  ).components.map((component) => ({ component }));

  test('probes and reports at most the caps at once, over concurrent sweeps, and still probes every component', async () => {
    let probing = 0;
    let maxProbing = 0;
    let signalling = 0;
    let maxSignalling = 0;
    const probe = async (): Promise<ProbeResult> => {
      maxProbing = Math.max(maxProbing, ++probing);
      await new Promise((r) => setTimeout(r, 5));
      probing--;
      return { healthy: true, detail: 'ok', latencyMs: 5 };
    };
    const client = {
      withAbortSignal: (_signal: AbortSignal, fn: () => unknown) => fn(),
      workflow: {
        signalWithStart: async () => {
          maxSignalling = Math.max(maxSignalling, ++signalling);
          await new Promise((r) => setTimeout(r, 5));
          signalling--;
          return {};
        },
      },
    } as unknown as Client;
    const env = new MockActivityEnvironment({}, { client });
    const { sweepHealth } = createSupervisionActivities(probe, undefined, { probes: 8, reports: 3 });
    const sweep = (group: string, part: typeof many): Promise<SweepResult> => env.run(sweepHealth, { group, specs: part, taskQueue: 'q', revision: 'r' });
    const [a, b] = await Promise.all([sweep('a', many.slice(0, 30)), sweep('b', many.slice(30))]);
    assert.deepEqual([a.probed, b.probed, a.reported.length + b.reported.length], [30, 30, 60], 'every component probed and (first sweep) reported');
    assert.equal(maxProbing, 8, 'probes capped over both sweeps');
    assert.equal(maxSignalling, 3, 'reports capped over both sweeps');
  });
});
