/**
 * mend starts the processes of `process` components through a small launcher child
 * (domain/adapters/launcher.js), not by forking the worker: real processes, real signals.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import type { ProcessAdapter } from '../core/schemas';
import { deathOf, readProcStat, startProcess, stopProcess } from '../domain/adapters/process';
import { demoProcessAdapter, httpStatus, ROOT, tempDir, waitFor } from './helpers';
import { TS_HOOK_ARGS } from '../workers/node-args';

/** The parent pid of `pid` (field 4 of /proc/<pid>/stat). */
function parentOf(pid: number): number {
  const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(text.slice(text.lastIndexOf(')') + 2).split(' ')[1]);
}

const commandOf = (pid: number) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
const gone = (pid: number) => readProcStat(pid) === undefined || readProcStat(pid)?.state === 'Z';

describe('the process launcher', () => {
  const dir = tempDir('launcher');
  const started: ProcessAdapter[] = [];
  after(async () => {
    for (const adapter of started) await stopProcess(adapter).catch(() => undefined);
  });

  test('a started process is the launcher’s child, not this process’s, and its exit status still reaches mend', async () => {
    const { adapter, url } = await demoProcessAdapter(dir, 'child');
    started.push(adapter);
    const { pid } = await startProcess(adapter);
    const parent = parentOf(pid);
    assert.notEqual(parent, process.pid, 'not forked from this process');
    assert.match(commandOf(parent), /launcher\.js/);
    await waitFor('healthy', 10_000, async () => (await httpStatus(url)) === 200);
    process.kill(pid, 'SIGKILL');
    await waitFor('dead', 10_000, async () => gone(pid));
    const death = await deathOf(adapter);
    assert.equal(death?.exit?.signal, 'SIGKILL', death?.detail);
    assert.match(death!.detail, /killed by SIGKILL/);
  });

  test('a launcher that died is replaced at the next start', async () => {
    const first = await demoProcessAdapter(dir, 'before');
    started.push(first.adapter);
    const launcher = parentOf((await startProcess(first.adapter)).pid);
    process.kill(launcher, 'SIGKILL');
    await waitFor('the launcher gone', 10_000, async () => gone(launcher));

    const next = await demoProcessAdapter(dir, 'after');
    started.push(next.adapter);
    const { pid } = await startProcess(next.adapter);
    const replacement = parentOf(pid);
    assert.notEqual(replacement, launcher);
    assert.match(commandOf(replacement), /launcher\.js/);
    await waitFor('healthy', 10_000, async () => (await httpStatus(next.url)) === 200);
  });

  test('the launcher does not hold its parent open, ends with it, and what it started outlives both', async () => {
    const { adapter, url } = await demoProcessAdapter(dir, 'outlives');
    started.push(adapter);
    // A process that starts the service and returns: it must end by itself.
    const script = path.join(dir, 'start-one.ts');
    writeFileSync(
      script,
      [
        `import { startProcess } from ${JSON.stringify(path.join(ROOT, 'domain/adapters/process'))};`,
        `startProcess(${JSON.stringify(adapter)}).then((s) => console.log(JSON.stringify(s)));`,
      ].join('\n'),
    );
    const child = spawn(process.execPath, [...TS_HOOK_ARGS, script], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    assert.equal(code, 0, 'the starter ended by itself');
    const { pid } = JSON.parse(out.trim()) as { pid: number };
    await waitFor('healthy', 10_000, async () => (await httpStatus(url)) === 200);
    // Its launcher was the starter's child: it ended when the starter did; the service runs on.
    await waitFor('no launcher left', 10_000, async () => !/launcher\.js/.test(commandOf(parentOf(pid))));
    assert.equal(await httpStatus(url), 200);
  });
});
