/**
 * The sweep activity on its own (a mock activity context, a recording client): a failure is
 * reported when it starts and then only when its supervisor may need it again (core/sweep-reports.ts),
 * healthy components only when new, changed, or after a config revision; every report starts the
 * supervisor if needed (signal-with-start) with the component's spec.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createSupervisionActivities, type SweepResult } from '../activities/supervision';
import { probeOverlapping } from '../domain/probes/overlapping';
import { parseConfig } from '../core/config';
import type { ProbeResult } from '../core/failure';
import type { Component } from '../core/schemas';
import type { ProbeReport } from '../core/supervision';
import { processAdapter, runningProcess, startProcess, stopProcess } from '../domain/adapters/process';
import { tempDir, waitFor } from './helpers';

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
/** The same components, checked every second. */
const everySecond = specs.map(({ component }) => ({ component: { ...component, supervision: { ...component.supervision, interval: 1_000 } } }));

/** A process component `p` (a `sleep 60` under a folder of its own), checked every second. */
function sleeperCheckedEverySecond(name: string) {
  const dir = tempDir(name);
  const [proc] = parseConfig(
    ['version: 1', 'components:', '  - id: p', '    adapter: { type: process, command: ["sleep", "60"] }', '    probe: { type: tcp, port: 1 }'].join('\n'),
    'p.yaml',
    { baseDir: dir, stateDir: `${dir}/.mend` },
  ).components;
  return { ...proc!, supervision: { ...proc!.supervision, interval: 1_000 } };
}

/** A client that records reports and answers run lookups from `runs` (id → its latest run, or none). */
function recordingClient(
  runs = new Map<string, { running: boolean; closeTime?: Date; parent?: string; outcome?: string }>(),
  queuedForPermits = new Set<string>(),
) {
  const sent: Array<{ workflowId: string; report: ProbeReport; args: unknown[] }> = [];
  const lookups: string[] = [];
  const client = {
    // The activity context binds the client to the activity's cancellation.
    withAbortSignal: (_signal: AbortSignal, fn: () => unknown) => fn(),
    // The limiter's query runs within a deadline (the real connection ends the call at it).
    connection: { withDeadline: (_deadline: number, fn: () => unknown) => fn() },
    workflow: {
      signalWithStart: async (_type: string, opts: { workflowId: string; signalArgs: [ProbeReport]; args: unknown[] }) => {
        sent.push({ workflowId: opts.workflowId, report: opts.signalArgs[0], args: opts.args });
        return {};
      },
      getHandle: (workflowId: string) => ({
        describe: async () => {
          lookups.push(workflowId);
          const run = runs.get(workflowId);
          if (!run) throw new WorkflowNotFoundError('not found', workflowId, undefined);
          return {
            status: { name: run.running ? 'RUNNING' : 'COMPLETED' },
            closeTime: run.closeTime,
            ...(run.parent ? { parentExecution: { workflowId: run.parent } } : {}),
          };
        },
        result: async () => ({ outcome: runs.get(workflowId)?.outcome ?? 'failed' }),
        // The fleet limiter's state: who waits for a permit.
        query: async () => {
          if (workflowId !== 'mend/fleet/q') throw new WorkflowNotFoundError('not found', workflowId, undefined);
          return { holders: [], waiting: [...queuedForPermits].map((component) => ({ component })) };
        },
      }),
    },
  } as unknown as Client;
  return { client, sent, lookups, reportedTo: (id: string) => sent.filter((s) => s.workflowId === `mend/supervisor/${id}`).length };
}

describe('health sweep activity', () => {
  test('reports a failure when it starts, then at most every repeat time; healthy components only when something changed', async () => {
    const health = new Map<string, boolean>([
      ['a', true],
      ['b', false],
    ]);
    const probe = async (c: Component): Promise<ProbeResult> =>
      health.get(c.id) ? { healthy: true, detail: 'ok', latencyMs: 1 } : { healthy: false, failureClass: 'network', detail: 'refused', latencyMs: 1 };
    const { client, sent } = recordingClient();
    const env = new MockActivityEnvironment({}, { client });
    let now = 1_000_000;
    const { sweepHealth } = createSupervisionActivities(probe, undefined, { now: () => now });
    // Checked every second; each sweep `stepMs` after the last.
    const sweep = (revision: string, stepMs = 5_000): Promise<SweepResult> => (
      (now += stepMs),
      env.run(sweepHealth, { group: 'g', specs: everySecond, taskQueue: 'q', revision })
    );

    const first = await sweep('r1');
    assert.deepEqual(first.reported.sort(), ['a', 'b'], 'the first sweep reports everyone (supervisors appear)');
    assert.deepEqual(first.unhealthy, ['b']);
    assert.equal(sent.find((s) => s.workflowId === 'mend/supervisor/b')?.report.failureClass, 'network');
    assert.deepEqual((sent[0]!.args[0] as { spec: { component: Component } }).spec.component.id, sent[0]!.workflowId.split('/')[2]);

    assert.deepEqual((await sweep('r1')).reported, ['b'], 'a healthy, unchanged component is not reported again; a failing one is, after the repeat time');
    assert.deepEqual((await sweep('r1', 1_000)).reported, [], 'a failure it reported a second ago is not reported again');
    assert.deepEqual((await sweep('r1', 2_000)).reported, [], 'nor three seconds after');
    assert.deepEqual((await sweep('r1', 2_000)).reported, ['b'], 'five seconds after, it is');
    health.set('b', true);
    assert.deepEqual((await sweep('r1', 1_000)).reported, ['b'], 'a change to healthy is reported at once');
    health.set('b', false);
    assert.deepEqual((await sweep('r1', 1_000)).reported, ['b'], 'and a change back to failing');
    assert.deepEqual((await sweep('r2', 1_000)).reported.sort(), ['a', 'b'], 'a new config revision reports everyone once');
    health.set('b', true);
    await sweep('r2', 1_000);
    assert.deepEqual((await sweep('r2')).reported, [], 'nothing changed, nothing failing: no signal at all');
    assert.ok(sent.every((s) => s.report.source === 'sweep' && !Number.isNaN(Date.parse(s.report.checkedAt))));
  });

  test("a failure is reported as soon as its own probes are done, not after the sweep's slowest probe", async () => {
    let releaseSlow!: () => void;
    const slowAnswered = new Promise<void>((resolve) => (releaseSlow = resolve));
    // a fails fast; b answers healthy only when the test lets it.
    const probe = async (c: Component): Promise<ProbeResult> => {
      if (c.id === 'a') return { healthy: false, failureClass: 'network', detail: 'refused', latencyMs: 1 };
      await slowAnswered;
      return { healthy: true, detail: 'ok', latencyMs: 1 };
    };
    const { client, reportedTo } = recordingClient();
    const env = new MockActivityEnvironment({}, { client });
    const { sweepHealth } = createSupervisionActivities(probe);
    const swept = env.run(sweepHealth, { group: 'g', specs: everySecond, taskQueue: 'q', revision: 'r' }) as Promise<SweepResult>;
    await waitFor('the report of a while b is still being probed', 5_000, () => reportedTo('a') === 1);
    assert.equal(reportedTo('b'), 0, 'b, still being probed, is not reported yet');
    releaseSlow();
    const result = await swept;
    assert.deepEqual(result.reported.sort(), ['a', 'b'], 'both reported by the end of the sweep');
  });

  test("a failure reported lately is reported again once the component's recovery run closed after it, not while the run goes", async () => {
    const runs = new Map<string, { running: boolean; closeTime?: Date; parent?: string }>();
    const { client, lookups, reportedTo } = recordingClient(runs);
    const env = new MockActivityEnvironment({}, { client });
    const { sweepHealth } = createSupervisionActivities(async () => ({ healthy: false, failureClass: 'network', detail: 'refused', latencyMs: 1 }));
    const sweep = () => env.run(sweepHealth, { group: 'g', specs: [everySecond[1]!], taskQueue: 'q', revision: 'r' });

    await sweep();
    assert.equal(reportedTo('b'), 1, 'the first failure');
    runs.set('mend/recover/b', { running: true });
    await sweep();
    assert.equal(reportedTo('b'), 1, 'its recovery runs: the supervisor drops what was probed before the run ends');
    assert.deepEqual(lookups, ['mend/recover/b'], 'the run was looked up');
    // Closed a moment after the failure was last probed (and before the next probe).
    const moment = () => new Promise((r) => setTimeout(r, 5));
    await moment();
    runs.set('mend/recover/b', { running: false, closeTime: new Date() });
    await moment();
    await sweep();
    assert.equal(reportedTo('b'), 2, 'the run closed after the failure last sent: its supervisor needs it again');
    await sweep();
    assert.equal(reportedTo('b'), 2, 'once told after the close, not again until the repeat time');
  });

  test('while its supervisor is queued for a fleet permit or its own run goes, an unchanged failure is repeated every 30 s, not every 5 s', async () => {
    const runs = new Map<string, { running: boolean; closeTime?: Date; parent?: string }>();
    const queued = new Set(['b']);
    const { client, reportedTo } = recordingClient(runs, queued);
    const env = new MockActivityEnvironment({}, { client });
    let now = 1_000_000;
    const { sweepHealth } = createSupervisionActivities(async () => ({ healthy: false, failureClass: 'network', detail: 'refused', latencyMs: 1 }), undefined, {
      now: () => now,
    });
    const capped = [{ ...everySecond[1]!, maxConcurrentRecoveries: 2 }];
    const sweepFor = async (seconds: number) => {
      for (let i = 0; i < seconds; i++) {
        now += 1_000;
        await env.run(sweepHealth, { group: 'g', specs: capped, taskQueue: 'q', revision: 'r' });
      }
    };
    await sweepFor(1);
    await sweepFor(20);
    assert.equal(reportedTo('b'), 1, 'queued for a permit: no repeat in 20 s');
    queued.clear();
    runs.set('mend/recover/b', { running: true, parent: 'mend/supervisor/b' });
    await sweepFor(5);
    assert.equal(reportedTo('b'), 1, 'its own recovery runs: no repeat either');
    await sweepFor(5);
    assert.equal(reportedTo('b'), 2, 'but one every 30 s (a supervisor gone meanwhile hears of it)');
    runs.set('mend/recover/b', { running: true });
    await sweepFor(5);
    assert.equal(reportedTo('b'), 3, 'a run it did not start: every 5 s (it learns what holds its component)');
    runs.delete('mend/recover/b');
    await sweepFor(5);
    assert.equal(reportedTo('b'), 4, 'neither queued nor recovering (held, or it missed it): every 5 s');
  });

  test('what its supervisor already knows is not sent: an exit its pid watch on this worker saw, a return its own recovery run reported', async () => {
    const component = sleeperCheckedEverySecond('sweep-known');
    let up = true;
    const runs = new Map<string, { running: boolean; closeTime?: Date; parent?: string; outcome?: string }>();
    const { client, reportedTo } = recordingClient(runs);
    const env = new MockActivityEnvironment({}, { client });
    let now = Date.now();
    const { sweepHealth, watchProcess } = createSupervisionActivities(
      async () => (up ? { healthy: true, detail: 'ok', latencyMs: 1 } : { healthy: false, failureClass: 'network', detail: 'refused', latencyMs: 1 }),
      undefined,
      { now: () => now },
    );
    const sweep = () => ((now += 1_000), env.run(sweepHealth, { group: 'g', specs: [{ component }], taskQueue: 'q', revision: 'r' }));
    try {
      await startProcess(processAdapter(component));
      await sweep();
      assert.equal(reportedTo('p'), 1, 'seen healthy: its supervisor appears');
      const pid = (await runningProcess(processAdapter(component)))!.pid;
      now += 500;
      setTimeout(() => process.kill(pid, 'SIGKILL'), 100);
      const seen = (await new MockActivityEnvironment().run(watchProcess, { component, maxMs: 30_000, pollMs: 20 })) as { exited: boolean };
      assert.equal(seen.exited, true);
      up = false;
      await sweep();
      assert.equal(reportedTo('p'), 1, 'its exit went to the supervisor with the watch: the sweep does not repeat it');
      for (let i = 0; i < 5; i++) await sweep();
      assert.equal(reportedTo('p'), 2, 'still down after the repeat time (and no recovery going): told');

      // Its supervisor's own run recovered it: it knows from the run.
      runs.set('mend/recover/p', { running: false, closeTime: new Date(now + 500), parent: 'mend/supervisor/p', outcome: 'recovered' });
      up = true;
      await sweep();
      assert.equal(reportedTo('p'), 2, 'back after the recovery run its supervisor awaited: not sent');
      up = false;
      await sweep();
      assert.equal(reportedTo('p'), 3, 'down again with no exit seen: sent at once');
      runs.set('mend/recover/p', { running: false, closeTime: new Date(now + 500), outcome: 'recovered' });
      up = true;
      await sweep();
      assert.equal(reportedTo('p'), 4, 'back after a run it did not start: sent');
    } finally {
      await stopProcess(processAdapter(component)).catch(() => undefined);
    }
  });

  test('a dead process whose pid watch on this worker is armed to restart it is left to the watch; a live one failing its probe is reported', async () => {
    const component = sleeperCheckedEverySecond('sweep-armed');
    let up = true;
    const { client, reportedTo } = recordingClient();
    const env = new MockActivityEnvironment({}, { client });
    let now = Date.now();
    const armed = new Map([['p', { watches: 1, pidFile: processAdapter(component).pidFile! }]]);
    const { sweepHealth } = createSupervisionActivities(
      async () => (up ? { healthy: true, detail: 'ok', latencyMs: 1 } : { healthy: false, failureClass: 'network', detail: 'refused', latencyMs: 1 }),
      undefined,
      { now: () => now },
      undefined,
      undefined,
      undefined,
      armed,
    );
    const sweep = () => ((now += 1_000), env.run(sweepHealth, { group: 'g', specs: [{ component }], taskQueue: 'q', revision: 'r' }));
    try {
      await startProcess(processAdapter(component));
      await sweep();
      assert.equal(reportedTo('p'), 1, 'seen healthy: its supervisor appears');
      // Alive but failing its probe (a hang): the watch does not act on it, the sweep reports it.
      up = false;
      await sweep();
      assert.equal(reportedTo('p'), 2, 'a live process failing: reported though a watch is armed');
      up = true;
      await sweep();
      assert.equal(reportedTo('p'), 3, 'healthy again: reported');
      // Dead: the armed watch sees the exit and restarts it; its answer tells the supervisor.
      process.kill((await runningProcess(processAdapter(component)))!.pid, 'SIGKILL');
      await waitFor('the process gone', 5_000, async () => !(await runningProcess(processAdapter(component))));
      up = false;
      await sweep();
      assert.equal(reportedTo('p'), 3, 'a dead process with an armed watch: left to the watch');
      // No armed watch (disarmed, or on another worker): the same failure is reported.
      armed.delete('p');
      for (let i = 0; i < 6; i++) await sweep();
      assert.equal(reportedTo('p'), 4, 'with no armed watch, the unchanged failure is told at its repeat time');
    } finally {
      await stopProcess(processAdapter(component)).catch(() => undefined);
    }
  });

  test('a failure is reported again when its failure class changes, and every sweep for a while after a dependency came back', async () => {
    const deps = parseConfig(
      [
        'version: 1',
        'components:',
        '  - id: db',
        '    adapter: { type: command, start: ["true"], stop: ["true"] }',
        '    probe: { type: tcp, port: 1 }',
        '  - id: web',
        '    dependsOn: [db]',
        '    adapter: { type: command, start: ["true"], stop: ["true"] }',
        '    probe: { type: tcp, port: 1 }',
      ].join('\n'),
      'deps.yaml',
      { baseDir: '/tmp', stateDir: '/tmp/.mend' },
    ).components;
    const db = deps.find((c) => c.id === 'db')!;
    const web = deps.find((c) => c.id === 'web')!;
    const two = [{ component: db }, { component: web, dependencies: [db] }];
    const verdicts = new Map<string, ProbeResult>([
      ['db', { healthy: false, failureClass: 'network', detail: 'refused', latencyMs: 1 }],
      ['web', { healthy: false, failureClass: 'network', detail: 'refused', latencyMs: 1 }],
    ]);
    const { client, reportedTo } = recordingClient();
    const env = new MockActivityEnvironment({}, { client });
    let now = 1_000_000;
    const { sweepHealth } = createSupervisionActivities(async (c) => verdicts.get(c.id)!, undefined, { now: () => now });
    const sweep = () => ((now += 1_000), env.run(sweepHealth, { group: 'g', specs: two, taskQueue: 'q', revision: 'r' }));

    await sweep();
    await sweep();
    assert.equal(reportedTo('web'), 1, 'an unchanged failure, a second later: not again');
    verdicts.set('web', { healthy: false, failureClass: 'timeout', detail: 'no answer', latencyMs: 1000 });
    await sweep();
    assert.equal(reportedTo('web'), 2, 'a new failure class (a crash turned into a hang) is news');
    verdicts.set('db', { healthy: true, detail: 'ok', latencyMs: 1 });
    await sweep();
    assert.equal(reportedTo('web'), 3, 'db came back in this sweep: web, held for it, hears of its own failure again');
    await sweep();
    await sweep();
    assert.equal(reportedTo('web'), 5, 'every sweep for a while after db came back (its recovery may still be closing)');
    assert.equal(reportedTo('db'), 2, 'db: its first failure and its return');
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
    // In turn they would take 900 ms at least; overlapped, about one timeout (plus a loaded box's delays).
    assert.ok(took < 900, `three 300-ms timeouts overlapped (took ${took}ms, in turn it would be 900ms+)`);
  });

  test('a fast failure is confirmed by the sweep itself, one confirm interval later; a healthy answer wins', async () => {
    let calls = 0;
    const t0 = Date.now();
    const fast = await probeOverlapping(component, () => (calls++, after(1, { ...failed, failureClass: 'network' })));
    const took = Date.now() - t0;
    assert.deepEqual([fast.failures, calls, fast.result.failureClass], [3, 3, 'network'], 'three probes, 50 ms apart, all failed');
    assert.ok(took >= 100, `the third probe starts two confirm intervals after the first (took ${took}ms)`);
    let m = 0;
    const blip = await probeOverlapping(component, () => (m++ === 0 ? after(1, failed) : after(1, { healthy: true, detail: 'ok', latencyMs: 1 })));
    assert.deepEqual([blip.failures, blip.result.healthy, m], [0, true, 2], 'one failed probe, then a healthy one: healthy, and no third probe');
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
