/**
 * The `saga` runbook on the shared dev server: steps run in order; when one fails the completed
 * ones are compensated in reverse; a compensation that keeps failing is retried, recorded, and the
 * run ends needs-attention. Each command appends to a journal file, so order and counts are real.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { AlreadyRunningError, type MendClient } from '../client';
import { selectSaga } from '../core/config';
import type { RecoveryResult } from '../core/run';
import type { Config } from '../core/schemas';
import { recordHistory, runCli, startRunbookSuite, tempDir, uniqueQueue, waitFor, writeDemoConfig, type RunbookSuite } from './helpers';

describe('saga', () => {
  const dir = tempDir('saga');
  const queue = uniqueQueue('saga');
  const journal = path.join(dir, 'journal.log');
  let config: Config;
  let client: MendClient;
  let suite: RunbookSuite;
  const env = () => suite.env;
  /** argv that appends a line to the journal, then exits with `code`. */
  const note = (line: string, code = 0) =>
    JSON.stringify(['node', '-e', `require('fs').appendFileSync(${JSON.stringify(journal)}, ${JSON.stringify(line + '\n')}); process.exit(${code})`]);
  const lines = () => readFileSync(journal, 'utf8').trim().split('\n');
  const step = (name: string, action: string, compensate?: string) =>
    `      - name: ${name}\n        action: { type: command, command: ${action} }\n${compensate ? `        compensate: { type: command, command: ${compensate} }\n` : ''}`;
  const run = async (name: string, requestId: string): Promise<RecoveryResult> => {
    const started = await client.startSaga({
      saga: selectSaga(config, name),
      allComponents: config.components,
      requestId,
      trigger: 'manual',
      requestedBy: 'test',
    });
    return client.result(started.workflowId, started.runId);
  };

  before(async () => {
    const sagas = [
      'sagas:',
      '  - name: rollout',
      '    steps:',
      step('drain', note('do drain'), note('undo drain')),
      step('migrate', note('do migrate'), note('undo migrate')),
      step('switch', note('do switch (fails)', 1), note('undo switch')),
      '  - name: stuck',
      '    compensationAttempts: 2',
      '    steps:',
      step('reserve', note('do reserve'), note('undo reserve')),
      step('charge', note('do charge'), note('undo charge (fails)', 7)),
      step('ship', note('do ship (fails)', 1)),
      '  - name: slow',
      '    steps:',
      step('lock', note('do lock'), note('undo lock')),
      `      - name: copy\n        action: { type: command, command: ${JSON.stringify(['node', '-e', `require('fs').appendFileSync(${JSON.stringify(journal)}, 'copy started ' + process.pid + '\\n'); setTimeout(() => require('fs').appendFileSync(${JSON.stringify(journal)}, 'copy finished\\n'), 20000)`])}, timeout: 1m }\n        compensate: { type: command, command: ${note('undo copy')} }\n`,
      '  - name: fine',
      '    steps:',
      `      - name: restart-web\n        action: { type: component, component: web, op: restart }\n        compensate: { type: component, component: web, op: stop }\n`,
      `      - name: check-web\n        action: { type: component, component: web, op: validate }\n`,
      `      - name: checkpoint-web\n        action: { type: component, component: web, op: checkpoint }\n`,
    ].join('\n');
    const { file } = await writeDemoConfig(dir, [{ id: 'web', state: { paths: ['state/web.json'] } }], sagas + '\n');
    suite = await startRunbookSuite(dir, queue, file);
    ({ config, client } = suite);
  });

  after(() => suite?.stop());

  test('step 3 fails: steps 2 and 1 are compensated in that order, and the run says so', async () => {
    const result = await run('rollout', 'r1');
    assert.deepEqual(lines(), ['do drain', 'do migrate', 'do switch (fails)', 'undo migrate', 'undo drain']);
    assert.equal(result.outcome, 'failed');
    assert.match(result.reason ?? '', /step switch failed: .*exit 1.*; compensated migrate, drain$/);
    assert.deepEqual(
      result.steps.map((s) => `${s.name} ${s.status}`),
      ['action ok', 'action ok', 'action failed', 'compensate ok', 'compensate ok'],
    );
    recordHistory(`mend/saga/rollout/r1`, (await client.describe('mend/saga/rollout/r1')).runId, 'saga-compensated.json');
  });

  test('a compensation that keeps failing is retried, recorded, the rest still compensated: needs-attention', async () => {
    const before = lines().length;
    const result = await run('stuck', 's1');
    assert.deepEqual(lines().slice(before), ['do reserve', 'do charge', 'do ship (fails)', 'undo charge (fails)', 'undo charge (fails)', 'undo reserve']);
    assert.equal(result.outcome, 'needs-attention');
    assert.match(result.reason ?? '', /compensation failed for charge \(compensated: reserve\): needs a human/);
  });

  test('cancel during a step: the running command is stopped, then the completed steps are compensated', async () => {
    const before = lines().length;
    const started = await client.startSaga({
      saga: selectSaga(config, 'slow'),
      allComponents: config.components,
      requestId: 'c1',
      trigger: 'manual',
      requestedBy: 'test',
    });
    const pid = await waitFor('the copy step to start', 15_000, () =>
      Number(
        lines()
          .slice(before)
          .find((l) => l.startsWith('copy started'))
          ?.split(' ')[2],
      ),
    );
    const cancelled = await runCli(['cancel', started.workflowId], env());
    assert.equal(cancelled.code, 0, cancelled.stderr);
    const result = await client.result(started.workflowId, started.runId);
    assert.equal(result.outcome, 'cancelled');
    assert.match(result.reason ?? '', /step copy was cancelled; compensated lock/);
    assert.deepEqual(lines().slice(before), ['do lock', `copy started ${pid}`, 'undo lock']);
    assert.throws(() => process.kill(pid, 0), /ESRCH/, 'the cancelled command was stopped before compensating, not left running');
  });

  test('a saga of component operations completes; the same request id never runs it twice', async () => {
    const result = await run('fine', 'f1');
    assert.equal(result.outcome, 'recovered', result.reason);
    assert.match(result.steps.at(-1)?.detail ?? '', /^checkpoint saga-fine-\w{8}-2$/);
    const res = await fetch(`http://127.0.0.1:${(config.components[0]!.probe as { url: string }).url.split(':')[2]!.split('/')[0]}/healthz`);
    assert.equal(res.status, 200);
    await assert.rejects(run('fine', 'f1'), AlreadyRunningError);
  });

  test('the CLI plans a saga without acting and names an unknown saga', async () => {
    const before = lines().length;
    const plan = await runCli(['run', 'saga', 'rollout', '--dry-run', '--config', path.join(dir, 'mend.config.yaml')], env());
    assert.equal(plan.code, 0, plan.stderr);
    assert.match(plan.stdout, /planned\s+action\s+.*drain: node -e/);
    assert.match(plan.stdout, /rollout: plan \(dry run, nothing done\)/);
    assert.equal(lines().length, before, 'nothing ran');
    const unknown = await runCli(['run', 'saga', 'nope', '--config', path.join(dir, 'mend.config.yaml')], env());
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown saga "nope" \(known: rollout, stuck, slow, fine\)/);
  });
});
