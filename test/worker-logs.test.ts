/**
 * The worker's log at the default level, as an operator reads it: a real worker process (no
 * MEND_LOG_LEVEL) runs backlog cycles that deliver items to a real sink, and its supervisor
 * recovers a SIGKILLed service. Every entry is one line, no task plumbing (task tokens) shows,
 * the cycles themselves say nothing at info, and the recovery is one line when it starts and one
 * when it ends.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { BacklogControl } from '../client/backlog';
import { supervisorState } from '../client/supervisors';
import { backlogWorkflowId, supervisorWorkflowId } from '../core/constants';
import { processAdapter, runningProcess } from '../domain/adapters/process';
import { writeItem } from '../domain/backlog/spool';
import { freePort } from '../scripts/ports';
import { formatLine, OneLineLogger } from '../workers/logging';
import {
  httpStatus,
  spawnTs,
  startRunbookSuite,
  superviseRunning,
  stopSupervisedSuite,
  tempDir,
  uniqueQueue,
  waitFor,
  writeDemoConfig,
  type RunbookSuite,
  type Spawned,
} from './helpers';

describe('the worker log at the default level', () => {
  const dir = tempDir('worker-logs');
  const queue = uniqueQueue('worker-logs');
  const suffix = Date.now().toString(36);
  const id = `logged-${suffix}`;
  const group = `logs-${suffix}`;
  const spoolName = `logs-${suffix}`;
  let sink: Spawned;
  let suite: RunbookSuite<Spawned>;

  before(async () => {
    const port = await freePort();
    sink = spawnTs('demo/sink.js', { ...process.env, PORT: String(port), STORE_FILE: path.join(dir, 'sink-store.json'), DEDUPE: 'off' });
    await waitFor('demo sink to answer', 15_000, async () => (await httpStatus(`http://127.0.0.1:${port}/healthz`)) === 200);
    const spool = {
      name: spoolName,
      dir: 'spool/logs',
      sink: { url: `http://127.0.0.1:${port}`, timeout: '1s' },
      batchSize: 2,
      intervals: { busy: '200ms', some: '200ms', idle: '300ms' },
      maxBackoff: '1s',
    };
    const { file } = await writeDemoConfig(
      dir,
      [{ id, supervision: { group, interval: '1s', startupGrace: '0s', restartBackoff: { initial: '100ms' } } }],
      `spools:\n  - ${JSON.stringify(spool)}\n`,
    );
    const env = process.env.MEND_LOG_LEVEL;
    delete process.env.MEND_LOG_LEVEL; // the default level, whatever the caller's shell says
    try {
      suite = await startRunbookSuite(dir, queue, file, { workerProcess: true });
    } finally {
      if (env !== undefined) process.env.MEND_LOG_LEVEL = env;
    }
  });

  after(async () => {
    await stopSupervisedSuite(suite, queue, [group], [supervisorWorkflowId(id), backlogWorkflowId(spoolName)]);
    await sink?.stop();
  });

  test('backlog cycles log nothing multi-line and no task token; a recovery is one line at its start and one at its end', async () => {
    const component = suite.config.components[0]!;
    const spool = suite.config.spools[0]!;
    for (let n = 0; n < 5; n++) await writeItem(spool.dir, { id: `item-${n}`, payload: { n } });
    const control = new BacklogControl(suite.client);
    await control.ensure(spool);
    await waitFor('the backlog delivered, over several cycles', 60_000, async () => {
      const s = await control.status(spool.name);
      return s.totals.delivered === 5 && s.cycles >= 3;
    });

    await superviseRunning(suite);
    process.kill((await runningProcess(processAdapter(component)))!.pid, 'SIGKILL');
    await waitFor('recovered', 60_000, async () => {
      const s = await supervisorState(suite.client, id);
      return s?.stats.attempted === 1 && s.current === undefined && s.health === 'healthy';
    });
    const ended = (l: string) => / INFO recovered .*component=/.test(l) && l.includes(`component=${id}`);
    await waitFor('the recovery to be logged', 10_000, () => suite.worker.output.some(ended));

    const log = suite.worker.output;
    assert.deepEqual(
      log.filter((l) => l.includes('taskToken')),
      [],
      'no task token',
    );
    // What the SDK's default logger printed for each entry's fields: an object over several lines.
    assert.deepEqual(
      log.filter((l) => /^\s+['\w$]+: /.test(l) || /^\s*[}\]],?$/.test(l) || /[{[]$/.test(l)),
      [],
      `every entry is one line:\n${log.join('\n')}`,
    );
    assert.deepEqual(
      log.filter((l) => /replay batch/.test(l)),
      [],
      'a cycle is no news at info',
    );
    const ofComponent = log.filter((l) => l.includes(`component=${id}`));
    assert.equal(ofComponent.filter((l) => / INFO recovery started /.test(l)).length, 1, ofComponent.join('\n'));
    assert.equal(ofComponent.filter(ended).length, 1, ofComponent.join('\n'));
    assert.match(
      ofComponent.find((l) => / INFO recovery started /.test(l))!,
      / strategy=immediate failureClass=crash reason="\d+ failed checks \(crash\)/,
    );
  });

  test('an entry is one line whatever it carries; MEND_LOG_LEVEL picks what is written', () => {
    const line = formatLine('WARN', 'two\nlines', { taskToken: 'abc', sdkComponent: 'activity', spool: 'a b', n: 2, nested: { a: [1, 2] }, text: 'x\ny' });
    assert.equal(line.split('\n').length, 1);
    assert.match(line, /^\S+ WARN two lines spool="a b" n=2 nested=\{"a":\[1,2\]\} text="x\\ny"$/);
    const written: string[] = [];
    const logger = new OneLineLogger('INFO', (l) => written.push(l));
    logger.debug('quiet');
    logger.info('Worker state changed', { sdkComponent: 'worker', state: 'RUNNING' });
    logger.info('recovery started', { sdkComponent: 'workflow', component: 'api' });
    logger.warn('webhook not delivered', { sdkComponent: 'activity' });
    // An activity-only worker (an agent, the embedded host worker) has no workflows by design.
    logger.warn('No workflows registered, not polling for workflow tasks', { sdkComponent: 'core' });
    assert.deepEqual(
      written.map((l) => l.split(' ').slice(1, 3).join(' ')),
      ['INFO recovery', 'WARN webhook'],
    );
    const debug: string[] = [];
    new OneLineLogger('DEBUG', (l) => debug.push(l)).info('Worker state changed', { sdkComponent: 'worker', state: 'RUNNING' });
    assert.match(debug[0]!, / DEBUG Worker state changed state=RUNNING$/);
  });
});
