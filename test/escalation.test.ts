/**
 * Escalation on the shared dev server: a component whose `immediate` recovery fails escalates to
 * `progressive` as a linked child run, and the ladder is in the result. The same runs are then
 * checked the way the Web UI sees them, with the Temporal CLI (`workflow describe`, `list --query`).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { MendClient } from '../client';
import { listRuns } from '../client/runs';
import type { RecoveryResult } from '../core/run';
import type { Config } from '../core/schemas';
import {
  demoStarts,
  recordHistory,
  runCli,
  sharedServer,
  startRunbookSuite,
  tempDir,
  uniqueQueue,
  waitFor,
  writeDemoConfig,
  type RunbookSuite,
} from './helpers';

describe('escalation', () => {
  const dir = tempDir('escalation');
  const queue = uniqueQueue('escalation');
  const id = `ladder-${Date.now().toString(36)}`;
  let config: Config;
  let client: MendClient;
  let result: RecoveryResult;
  let suite: RunbookSuite;
  const env = () => suite.env;
  const temporal = (args: string[]) =>
    execFileSync(sharedServer().temporalCli, [...args, '--address', sharedServer().address, '--output', 'json'], { encoding: 'utf8' });

  before(async () => {
    const { file } = await writeDemoConfig(dir, [
      {
        id,
        // Starts 1 and 2 exit at once: immediate (start 1) fails, progressive fails once (start 2), then recovers (start 3).
        env: { FAIL_FIRST_STARTS: '2' },
        policy: { strategy: 'immediate', escalation: ['immediate', 'progressive'], timeout: '1s', maxRetries: 3, initialDelay: '200ms', jitter: 0 },
      },
      {
        id: `${id}-three`,
        // Starts 1 and 2 exit at once: immediate fails, progressive (one attempt) fails, dependency-aware recovers.
        env: { FAIL_FIRST_STARTS: '2' },
        policy: { strategy: 'immediate', escalation: ['immediate', 'progressive', 'dependency-aware'], timeout: '10s', maxRetries: 1 },
      },
      {
        id: `${id}-reset`,
        // Start 1 exits at once: immediate fails, and the ladder ends in an emergency reset that waits for approval.
        env: { FAIL_FIRST_STARTS: '1' },
        policy: { strategy: 'immediate', escalation: ['immediate', 'emergency-reset'], timeout: '1s' },
      },
    ]);
    suite = await startRunbookSuite(dir, queue, file);
    ({ config, client } = suite);
  });

  after(() => suite?.stop());

  test('a failed immediate recovery escalates to progressive, which recovers; the ladder and reasons are in the result', async () => {
    const res = await runCli(['run', 'immediate', id, '--watch', '--config', path.join(dir, 'mend.config.yaml')], env());
    assert.equal(res.code, 0, res.stdout + res.stderr);
    assert.match(res.stdout, /running\s+escalate\s+escalate .* to progressive/, '--watch shows the escalation while it runs');
    assert.match(res.stdout, /escalation: immediate failed: .*exited before it was healthy \(pid \d+, exit code 4\)/);
    assert.match(res.stdout, /escalation: progressive recovered/);
    assert.equal(demoStarts(dir, id), 3, 'three starts in all: no action ran twice');

    result = await client.result(`mend/recover/${id}`);
    assert.equal(result.outcome, 'recovered');
    assert.equal(result.strategy, 'immediate');
    assert.deepEqual(
      result.ladder?.map((r) => [r.strategy, r.outcome, r.workflowId]),
      [
        ['immediate', 'failed', `mend/recover/${id}`],
        ['progressive', 'recovered', `mend/recover/${id}/escalation/progressive`],
      ],
    );
    const child = await client.result(`mend/recover/${id}/escalation/progressive`);
    assert.equal(child.attempts, 2);
    assert.equal(result.endedAt, child.endedAt, 'the run ends when its ladder does');
    assert.equal(result.durationMs, Date.parse(child.endedAt) - Date.parse(result.startedAt), 'its duration (and MTTR) counts every rung');
    recordHistory(`mend/recover/${id}`, (await client.describe(`mend/recover/${id}`)).runId, 'immediate-escalated.json');
  });

  test('the Temporal CLI sees what the Web UI shows: search attributes, summaries, the parent link', async () => {
    const parent = JSON.parse(temporal(['workflow', 'describe', '-w', `mend/recover/${id}`])) as Record<string, unknown>;
    const text = JSON.stringify(parent);
    assert.match(text, /recover .* \(immediate, manual by /, 'the static summary');
    for (const attr of ['MendComponents', 'MendStrategy', 'MendPhase', 'MendOutcome', 'MendTrigger']) assert.match(text, new RegExp(attr), `${attr} is set`);

    const child = JSON.parse(temporal(['workflow', 'describe', '-w', `mend/recover/${id}/escalation/progressive`])) as {
      workflowExecutionInfo: { parentExecution?: { workflowId: string } };
      executionConfig: { userMetadata?: { summary?: string } };
    };
    assert.equal(child.workflowExecutionInfo.parentExecution?.workflowId, `mend/recover/${id}`, 'the child links to its parent');
    assert.match(child.executionConfig.userMetadata?.summary ?? '', /escalation: immediate failed on/);

    // Visibility is eventually consistent: wait for the query to see both runs.
    const listed = await waitFor('both rungs in the visibility query', 10_000, () => {
      const out = temporal(['workflow', 'list', '--query', `MendComponents = "${id}" AND MendOutcome = "recovered"`]);
      const rows = JSON.parse(out.trim() || '[]') as Array<{ execution: { workflowId: string } }>;
      return rows.length === 2 && rows;
    });
    assert.deepEqual(listed.map((r) => r.execution.workflowId).sort(), [`mend/recover/${id}`, `mend/recover/${id}/escalation/progressive`]);

    // The activity summaries the timeline shows.
    const history = await client.temporal.workflow.getHandle(`mend/recover/${id}/escalation/progressive`).fetchHistory();
    const summaries = (history.events ?? []).filter((e) => e.activityTaskScheduledEventAttributes).map((e) => e.userMetadata?.summary?.data);
    assert.ok(summaries.length > 0 && summaries.every(Boolean), 'every activity has a summary');
  });

  test('each rung records its own outcome: a failed middle rung is found by MendOutcome = "failed", the first run carries the final one and links every rung', async () => {
    const target = `${id}-three`;
    const component = config.components.find((c) => c.id === target)!;
    const run = await client.startRecovery({ strategy: 'immediate', component, trigger: 'manual', requestedBy: 'test', allComponents: config.components });
    const result = await client.result(run.workflowId, run.runId);
    const middle = `mend/recover/${target}/escalation/progressive`;
    const last = `${middle}/escalation/dependency-aware`;
    assert.equal(result.outcome, 'recovered', result.reason);
    assert.deepEqual(
      result.ladder?.map((r) => [r.strategy, r.outcome, r.workflowId]),
      [
        ['immediate', 'failed', run.workflowId],
        ['progressive', 'failed', middle],
        ['dependency-aware', 'recovered', last],
      ],
    );
    const runIds = await Promise.all([run.workflowId, middle, last].map(async (w) => (await client.describe(w)).runId));
    assert.deepEqual(
      result.ladder?.map((r) => r.runId),
      runIds,
      'the first run links every rung by run id',
    );

    // Visibility is eventually consistent: wait until the middle rung is listed as failed.
    const failed = await waitFor('the failed rung in MendOutcome = "failed"', 15_000, async () => {
      const list = await listRuns(client, { component: target, outcome: 'failed', limit: 10 });
      return list.runs.some((r) => r.workflowId === middle) && list;
    });
    assert.match(failed.query, /MendOutcome = "failed"/);
    assert.deepEqual(
      failed.runs.map((r) => r.workflowId),
      [middle],
      'only the middle rung failed for good: the first run carries the final outcome',
    );
    const sa = (w: string) =>
      client.temporal.workflow
        .getHandle(w)
        .describe()
        .then((d) => d.searchAttributes as Record<string, unknown[]>);
    assert.deepEqual([(await sa(middle)).MendOutcome, (await sa(middle)).MendPhase], [['failed'], ['failure']], 'the middle rung is not labelled recovered');
    assert.deepEqual([(await sa(run.workflowId)).MendOutcome, (await sa(run.workflowId)).MendPhase], [['recovered'], ['completion']]);
    assert.deepEqual((await sa(last)).MendOutcome, ['recovered']);
    const recovered = await waitFor('the first and last rungs in MendOutcome = "recovered"', 15_000, async () => {
      const list = await listRuns(client, { component: target, outcome: 'recovered', limit: 10 });
      return list.runs.length === 2 && list;
    });
    assert.deepEqual(recovered.runs.map((r) => r.workflowId).sort(), [run.workflowId, last].sort());

    const middleResult = await client.result(middle);
    assert.equal(middleResult.outcome, 'failed', "the middle rung's own result says what it did");
    assert.deepEqual(
      middleResult.ladder?.map((r) => `${r.strategy} ${r.outcome}`),
      ['progressive failed', 'dependency-aware recovered'],
    );
    recordHistory(middle, runIds[1]!, 'escalation-middle-rung-failed.json');
  });

  test("an emergency reset reached by escalation is approved through the component's run id", async () => {
    const target = `${id}-reset`;
    const run = await client.startRecovery({
      strategy: 'immediate',
      component: config.components.find((c) => c.id === target)!,
      trigger: 'manual',
      requestedBy: 'test',
      allComponents: config.components,
    });
    const childId = `mend/recover/${target}/escalation/emergency-reset`;
    await waitFor('the escalated reset to wait for approval', 20_000, async () => (await client.progress(childId)).approval?.state === 'waiting');
    const approved = await waitFor('the approval to reach the waiting rung', 10_000, async () => {
      const res = await runCli(['approve', target, '--by', 'carol', '--reason', 'ladder drill'], env());
      return res.code === 0 && res;
    });
    assert.match(approved.stdout, new RegExp(`^${childId}: approved by carol`));
    const result = await client.result(run.workflowId, run.runId);
    assert.equal(result.outcome, 'recovered', result.reason);
    assert.deepEqual(
      result.ladder?.map((r) => `${r.strategy} ${r.outcome}`),
      ['immediate failed', 'emergency-reset recovered'],
    );
  });
});
