// Concurrent lane is fine: each `mend runbook test` starts its own Temporal dev server, bundles a worker and runs a demo service
/**
 * `mend runbook test [name]`, run as a user runs it (the mend binary, in a project folder whose
 * node_modules/mend is this checkout): the scaffold of `mend runbook new` passes against the
 * command's own dev server and demo service, its runs are recorded as replay fixtures that
 * `mend runbook replay` replays; a failing test exits 1 naming the runbook and records nothing;
 * a runbook without a test, or no such runbook, is a usage error.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { before, describe, test } from 'node:test';
import { ROOT, runMendBinary, tempDir } from './helpers';

describe('mend runbook test', () => {
  const project = tempDir('runbook-test');
  const runbooks = path.join(project, 'runbooks');
  const fixtures = path.join(runbooks, 'fixtures');
  const mend = (...args: string[]) => runMendBinary(args, { MEND_CONFIG: 'mend.config.yaml', MEND_HOME: '.mend' }, { cwd: project });

  before(() => {
    mkdirSync(path.join(project, 'node_modules'));
    // What installing mend gives a project: `mend/kit` and `mend/testing` resolve to this checkout.
    symlinkSync(ROOT, path.join(project, 'node_modules', 'mend'));
  });

  test("the scaffold's test passes on a demo service and its runs become fixtures that mend runbook replay replays", async () => {
    const made = await mend('runbook', 'new', 'restart-twice');
    assert.equal(made.code, 0, made.stderr);
    assert.match(made.stdout, /test it: mend runbook test restart-twice/);

    const tested = await mend('runbook', 'test', 'restart-twice');
    assert.equal(tested.code, 0, tested.stdout + tested.stderr);
    assert.match(tested.stdout, /# pass 3\n# fail 0/);
    assert.match(tested.stdout, /^ok {6}restart-twice: runbooks\/restart-twice\.test\.ts$/m);
    assert.match(tested.stdout, /recorded runbooks\/fixtures\/restart-twice\.json\n.*recorded runbooks\/fixtures\/restart-twice-2\.json/);
    assert.deepEqual(readdirSync(fixtures).sort(), ['restart-twice-2.json', 'restart-twice.json']);

    // The second run restarted the demo service for real: its history has the stop and start activities.
    const history = JSON.parse(readFileSync(path.join(fixtures, 'restart-twice-2.json'), 'utf8')) as {
      workflowId: string;
      events: Array<{
        workflowExecutionStartedEventAttributes?: { workflowType?: { name?: string } };
        activityTaskScheduledEventAttributes?: { activityType?: { name?: string } };
      }>;
    };
    assert.equal(history.workflowId, 'mend/recover/demo');
    assert.equal(history.events[0]!.workflowExecutionStartedEventAttributes?.workflowType?.name, 'runbook_restart_twice');
    const activities = history.events.flatMap((e) =>
      e.activityTaskScheduledEventAttributes ? [e.activityTaskScheduledEventAttributes.activityType?.name] : [],
    );
    assert.ok(activities.includes('stopComponent') && activities.includes('startComponent'), activities.join(', '));

    const replayed = await mend('runbook', 'replay');
    assert.equal(replayed.code, 0, replayed.stdout + replayed.stderr);
    assert.match(replayed.stdout, /^ok {6}restart-twice-2\.json \(runbook restart-twice\)$/m);
    assert.match(replayed.stdout, /^ok {6}restart-twice\.json \(runbook restart-twice\)$/m);
  });

  test('a failing runbook test exits 1 naming the runbook, and records no fixture', async () => {
    writeFileSync(
      path.join(runbooks, 'gives-up.ts'),
      `import { defineRunbook } from 'mend/kit';
export default defineRunbook({
  name: 'gives-up',
  description: 'probes, then gives up',
  async run(ctx) {
    await ctx.probe();
    ctx.fail('gives up on ' + ctx.component.id);
  },
});
`,
    );
    writeFileSync(
      path.join(runbooks, 'gives-up.test.ts'),
      `import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runRunbook } from 'mend/testing';
test('gives-up recovers the demo service', async () => {
  const result = await runRunbook('gives-up');
  assert.equal(result.outcome, 'recovered', result.reason);
});
`,
    );
    const tested = await mend('runbook', 'test', 'gives-up');
    assert.equal(tested.code, 1, tested.stdout + tested.stderr);
    assert.match(tested.stdout, /gives up on demo/);
    assert.match(tested.stdout, /^FAILED {2}gives-up: runbooks\/gives-up\.test\.ts \(exit 1\); no fixture recorded$/m);
    assert.equal(tested.stderr.trim(), 'mend: 1 runbook test failed');
    assert.ok(!existsSync(path.join(fixtures, 'gives-up.json')));
  });

  test('no such runbook, or a runbook without a test, is one line and exit 2', async () => {
    const unknown = await mend('runbook', 'test', 'nope');
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /^mend: no runbook "nope" in .*runbooks \(runbooks: gives-up, restart-twice\)\n$/);
    writeFileSync(path.join(runbooks, 'untested.ts'), readFileSync(path.join(runbooks, 'gives-up.ts'), 'utf8').replace(/gives-up/g, 'untested'));
    const untested = await mend('runbook', 'test', 'untested');
    assert.equal(untested.code, 2);
    assert.match(untested.stderr, /^mend: .*runbooks\/untested\.test\.ts does not exist: a runbook's test is <name>\.test\.ts beside it/);
  });
});
