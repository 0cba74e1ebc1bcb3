// test-lane: serial — starts and kills a whole stack (its own dev server, worker, API, fleet): run alone, not starved by other files
/**
 * `npm start`'s stack for real: dev server on a SQLite file, demo fleet, worker and API. It comes up,
 * its supervisors recover a killed service with no human action (and a run by hand works too), it
 * stops on SIGTERM leaving no process behind (ps proves it), and a second start on the same
 * database still sees the earlier run.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { MendClient } from '../client';
import { recoveryWorkflowId } from '../core/constants';
import { freePort } from '../scripts/ports';
import { httpStatus, runMendBinary, sharedServer, spawnTs, tempDir, waitFor, writeDemoConfig, type Spawned } from './helpers';

/** Processes whose environment carries this stack's MEND_HOME: everything the stack started. */
function processesOf(home: string): string[] {
  const out = execFileSync('ps', ['-e', 'e', '-ww', '-o', 'pid=,stat=,args='], { encoding: 'utf8' });
  return out.split('\n').filter((line) => line.includes(`MEND_HOME=${home} `) && !/^\s*\d+\s+Z/.test(line)).map((line) => line.slice(0, 160));
}

describe('the dev stack (npm start)', () => {
  const dir = tempDir('stack');
  const home = path.join(dir, '.mend');
  let stack: Spawned | undefined;
  let env: NodeJS.ProcessEnv;

  after(async () => {
    if (stack && stack.proc.exitCode === null) {
      process.kill(-stack.proc.pid!, 'SIGKILL');
      await stack.exited;
    }
  });

  async function up(): Promise<Spawned> {
    const started = spawnTs('scripts/dev-stack.ts', env, { detached: true });
    await waitFor('"mend is up"', 120_000, () => started.output.some((l) => l.includes('mend is up')) || (started.proc.exitCode !== null && Promise.reject(new Error(started.output.join('\n')))));
    return started;
  }

  async function down(started: Spawned): Promise<void> {
    process.kill(-started.proc.pid!, 'SIGTERM'); // the whole group, as Ctrl-C or a service manager would
    const code = await started.exited;
    assert.equal(code, 0, started.output.slice(-10).join('\n'));
    await waitFor('no process of the stack left', 10_000, () => processesOf(home).length === 0).catch(() => {
      assert.deepEqual(processesOf(home), [], 'processes left behind');
    });
  }

  test('comes up, recovers a killed demo service, and stops leaving nothing running', async () => {
    const { file, services } = await writeDemoConfig(dir, [{ id: 'store' }, { id: 'api', dependsOn: ['store'] }, { id: 'web', dependsOn: ['api'] }]);
    const apiPort = await freePort();
    env = {
      ...process.env,
      MEND_HOME: home,
      MEND_CONFIG: file,
      MEND_API_PORT: String(apiPort),
      MEND_TEMPORAL_PORT: String(await freePort()),
      MEND_UI_PORT: String(await freePort()),
      TEMPORAL_CLI_PATH: sharedServer().temporalCli,
    };
    stack = await up();
    assert.equal(await httpStatus(`http://127.0.0.1:${apiPort}/readyz`, 3_000), 200);
    const token = /API admin token\s+(\S+)/.exec(stack.output.join('\n'))?.[1];
    assert.ok(token, 'the stack prints an admin token');
    const components = await fetch(`http://127.0.0.1:${apiPort}/v1/components`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(components.status, 200);
    assert.deepEqual(((await components.json()) as { components: Array<{ id: string }> }).components.map((c) => c.id), ['store', 'api', 'web']);
    assert.equal(await httpStatus(`http://127.0.0.1:${apiPort}/v1/components`), 401, 'no token, no answer');
    assert.equal(execFileSync('cat', [path.join(home, 'api-token')], { encoding: 'utf8' }).trim(), token);
    assert.equal(await httpStatus(`http://127.0.0.1:${env.MEND_UI_PORT}/`, 5_000), 200, 'the Web UI answers');
    for (const s of services) assert.equal(await httpStatus(`http://127.0.0.1:${s.port}/healthz`), 200, `${s.id} healthy`);

    const api = services[1]!;
    const pid = JSON.parse(execFileSync('cat', [path.join(home, 'run/api.pid')], { encoding: 'utf8' })).pid as number;
    process.kill(pid, 'SIGKILL');
    // The stack reconciled the health schedules: api's supervisor recovers it with no human action
    // (after its startup grace, if the kill fell within it), as a run triggered by the schedule.
    const client = await MendClient.connect({ address: `127.0.0.1:${env.MEND_TEMPORAL_PORT}` });
    try {
      const run = await waitFor('api recovered by its supervisor', 90_000, async () => {
        const d = await client.temporal.workflow.getHandle(recoveryWorkflowId('api')).describe();
        const sa = d.searchAttributes as Record<string, unknown[]>;
        return d.status.name === 'COMPLETED' && sa.MendTrigger?.[0] === 'schedule' && sa;
      }).catch((err: Error) => assert.fail(`${err.message}\n${stack!.output.slice(-40).join('\n')}`));
      assert.deepEqual(run.MendOutcome, ['recovered']);
      assert.equal(await httpStatus(`http://127.0.0.1:${api.port}/healthz`), 200);
    } finally {
      await client.close();
    }

    // A recovery by hand still works beside the supervisors.
    const run = await runMendBinary(['run', 'immediate', 'api'], { ...env, MEND_TEMPORAL_ADDRESS: `127.0.0.1:${env.MEND_TEMPORAL_PORT}` });
    assert.equal(run.code, 0, run.stderr + run.stdout);
    assert.match(run.stdout, /api: recovered in /);
    assert.equal(await httpStatus(`http://127.0.0.1:${api.port}/healthz`), 200);

    // The same through the HTTP API, as an operator with curl would.
    const web = services[2]!;
    const webPid = JSON.parse(execFileSync('cat', [path.join(home, 'run/web.pid')], { encoding: 'utf8' })).pid as number;
    process.kill(webPid, 'SIGKILL');
    const auth = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    const started = await fetch(`http://127.0.0.1:${apiPort}/v1/runs`, { method: 'POST', headers: auth, body: JSON.stringify({ strategy: 'immediate', components: ['web'], reason: 'dev stack test' }) });
    assert.equal(started.status, 202, await started.clone().text());
    const { workflowId } = (await started.json()) as { workflowId: string };
    const done = await waitFor('the API-started run to finish', 30_000, async () => {
      const d = (await (await fetch(`http://127.0.0.1:${apiPort}/v1/runs/${encodeURIComponent(workflowId)}`, { headers: auth })).json()) as { status: string; result?: { outcome: string } };
      return d.status === 'COMPLETED' && d;
    });
    assert.equal(done.result?.outcome, 'recovered');
    assert.equal(await httpStatus(`http://127.0.0.1:${web.port}/healthz`), 200);

    // The CLI through the stack's API (MEND_URL, MEND_TOKEN), with no Temporal address of its own.
    const viaApi = { ...env, MEND_URL: `http://127.0.0.1:${apiPort}`, MEND_TOKEN: token, MEND_TEMPORAL_ADDRESS: '127.0.0.1:1' };
    const listed = await runMendBinary(['components'], viaApi);
    assert.equal(listed.code, 0, listed.stderr);
    for (const id of ['store', 'api', 'web']) assert.match(listed.stdout, new RegExp(`^${id}\\s+process\\s+http\\s`, 'm'));
    const checked = await runMendBinary(['check', 'api'], viaApi);
    assert.equal(checked.code, 0, checked.stderr + checked.stdout);
    assert.match(checked.stdout, /^api: healthy \(HTTP 200, \d+ms\)\n$/);

    assert.ok(processesOf(home).length >= 6, `expected server, worker, api and 3 demo services, saw:\n${processesOf(home).join('\n')}`);
    await down(stack);
  });

  test('a second start reuses the database and sees the earlier run', async () => {
    assert.ok(env, 'the first test set the stack up');
    stack = await up();
    const client = await MendClient.connect({ address: `127.0.0.1:${env.MEND_TEMPORAL_PORT}` });
    try {
      const desc = await client.temporal.workflow.getHandle(recoveryWorkflowId('api')).describe();
      assert.equal(desc.status.name, 'COMPLETED');
      assert.deepEqual((desc.searchAttributes as Record<string, unknown[]>).MendOutcome, ['recovered']);
    } finally {
      await client.close();
    }
    await down(stack);
  });
});
