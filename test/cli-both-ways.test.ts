/**
 * One CLI path: the run commands (run --dry-run, run saga, run --no-wait, status, pause, resume, cancel,
 * approve, and their refusals) run through bin/mend straight to Temporal, then with MEND_URL and
 * MEND_TOKEN through an API on a free port (with Temporal unreachable from the CLI, so nothing can
 * slip past the API), against the same worker and dev server. Both sessions must print the same
 * lines and exit with the same codes, once run ids, times, durations and who acted are masked.
 */
import assert from 'node:assert/strict';
import os from 'node:os';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { processAdapter, startProcess } from '../domain/adapters/process';
import { recoveryWorkflowId } from '../core/constants';
import { makeTokens, testApp } from './api-fixtures';
import { recorder } from './both-ways';
import { httpStatus, startRunbookSuite, tempDir, uniqueQueue, waitFor, writeDemoConfig, type RunbookSuite } from './helpers';

describe('the run commands give the same output and exit codes through the API as straight to Temporal', () => {
  const dir = tempDir('cli-both-ways');
  const queue = uniqueQueue('cli-both-ways');
  const C = `both-${Date.now().toString(36)}`;
  const workflowId = recoveryWorkflowId(C);
  let suite: RunbookSuite;
  let configFile: string;
  let app: FastifyInstance;
  let apiUrl: string;
  let adminToken: string;

  before(async () => {
    const saga =
      ['sagas:', '  - name: bounce', '    steps:', `      - name: validate\n        action: { type: component, component: ${C}, op: validate }`].join('\n') +
      '\n';
    const { file } = await writeDemoConfig(dir, [{ id: C, supervision: { enabled: false }, policy: { approvalTimeout: '10m' } }], saga);
    configFile = file;
    suite = await startRunbookSuite(dir, queue, file);
    const component = suite.config.components[0]!;
    await startProcess(processAdapter(component));
    await waitFor(`${C} healthy`, 15_000, async () => (await httpStatus(component.probe.type === 'http' ? component.probe.url : '')) === 200);
    const made = makeTokens(C);
    adminToken = made.tokens.admin;
    app = await testApp(suite.client, suite.config, made.table);
    apiUrl = await app.listen({ host: '127.0.0.1', port: 0 });
  });

  after(async () => {
    await app?.close();
    await suite?.client.temporal.workflow
      .getHandle(workflowId)
      .terminate('test over')
      .catch(() => undefined);
    await suite?.stop();
  });

  /** The same commands, in the same order, waiting on the run (read from Temporal by the test) between them. */
  async function session(env: NodeJS.ProcessEnv, who: string) {
    const { steps, mend } = recorder(env, who);
    const waiting = () =>
      waitFor('the reset to wait for an approval', 30_000, async () => (await suite.client.progress(workflowId)).approval?.state === 'waiting');

    await mend('run', 'immediate', C, '--dry-run', '--reason', 'both ways');
    await mend('run', 'saga', 'bounce', '--dry-run');
    await mend('run', 'emergency-reset', C, '--no-wait', '--json');
    await waiting();
    await mend('pause', C, '--reason', 'both ways');
    await waitFor('the run to say it is paused', 15_000, async () => (await suite.client.progress(workflowId)).paused);
    await mend('status', C);
    await mend('resume', C);
    await waitFor('the run to say it is no longer paused', 15_000, async () => !(await suite.client.progress(workflowId)).paused);
    await mend('cancel', C, '--reason', 'both ways');
    assert.equal((await suite.client.result(workflowId)).outcome, 'cancelled');
    await mend('status', C);

    await mend('run', 'emergency-reset', C, '--no-wait');
    await waiting();
    await mend('approve', C, '--reject', '--reason', 'not now');
    assert.equal((await suite.client.result(workflowId)).outcome, 'cancelled', 'rejected: nothing done');

    // Refusals: a run that never ran, a run that has ended.
    await mend('status', 'mend/recover/never-ran');
    await mend('pause', 'mend/recover/never-ran');
    await mend('approve', C, '--reason', 'too late');
    await mend('cancel', C);
    await mend('pause', C);
    return steps;
  }

  test('run --dry-run, run saga, run, pause, status, resume, cancel, approve --reject and their refusals', async () => {
    const direct = await session({ ...suite.env, MEND_CONFIG: configFile }, `${os.userInfo().username}@cli`);
    // Temporal unreachable for the CLI itself: only the API can answer these.
    const viaApi = await session(
      { ...suite.env, MEND_CONFIG: configFile, MEND_URL: apiUrl, MEND_TOKEN: adminToken, MEND_TEMPORAL_ADDRESS: '127.0.0.1:1' },
      'test-admin',
    );

    assert.deepEqual(
      direct.map((s) => [s.command, s.code]),
      [
        [`run immediate ${C} --dry-run --reason both ways`, 0],
        ['run saga bounce --dry-run', 0],
        [`run emergency-reset ${C} --no-wait --json`, 0],
        [`pause ${C} --reason both ways`, 0],
        [`status ${C}`, 0],
        [`resume ${C}`, 0],
        [`cancel ${C} --reason both ways`, 0],
        [`status ${C}`, 1],
        [`run emergency-reset ${C} --no-wait`, 0],
        [`approve ${C} --reject --reason not now`, 0],
        ['status mend/recover/never-ran', 2],
        ['pause mend/recover/never-ran', 2],
        [`approve ${C} --reason too late`, 1],
        [`cancel ${C}`, 1],
        [`pause ${C}`, 1],
      ],
      JSON.stringify(direct, null, 2),
    );
    assert.match(direct[0]!.stdout, new RegExp(`^started ${workflowId} \\(immediate\\) → <url>\\n(  .*\\n)+${C}: plan \\(dry run, nothing done\\)\\n$`));
    assert.match(direct[9]!.stdout, new RegExp(`^${workflowId}: rejected by <who> \\(not now\\)\\n$`));
    for (const [i, step] of viaApi.entries()) assert.deepEqual(step, direct[i], `${step.command}: through the API it differs`);
  });
});
