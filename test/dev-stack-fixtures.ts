/**
 * What the dev-stack tests share: starting `npm start`'s stack (scripts/dev-stack.ts) in its own
 * process group, stopping it as Ctrl-C would, and seeing which of its processes still run.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { liveProcStat } from '../domain/adapters/process';
import { freePortInRange } from '../scripts/ports';
import { GiveUp, spawnTs, waitFor, type Spawned } from './helpers';

/**
 * A port for a stack's server or service, below Linux's ephemeral range (32768 and up): a stack binds
 * its ports some 20 s after the test picked them, and an OS-picked port (`listen(0)`, an outgoing
 * connection) of any other process could take one in the meantime. Here only another random pick could.
 */
export function stackPort(): Promise<number> {
  return freePortInRange(10_000, 19_999);
}

/** Processes whose environment carries this stack's MEND_HOME: everything the stack started. */
export function processesOf(home: string): string[] {
  const out = execFileSync('ps', ['-e', 'e', '-ww', '-o', 'pid=,stat=,args='], { encoding: 'utf8' });
  return out
    .split('\n')
    .filter((line) => line.includes(`MEND_HOME=${home} `) && !/^\s*\d+\s+Z/.test(line))
    .map((line) => line.slice(0, 160));
}

/** The pid a process component's pid file names. */
export function componentPid(home: string, id: string): number {
  return (JSON.parse(readFileSync(path.join(home, 'run', `${id}.pid`), 'utf8')) as { pid: number }).pid;
}

/** Running, and not a zombie (a process orphaned by an exited stack may wait unreaped). */
export function alive(pid: number): boolean {
  return liveProcStat(pid) !== undefined;
}

/** The pid of one line of processesOf. */
export function pidOfLine(line: string): number {
  return Number(line.trim().split(/\s+/)[0]);
}

/**
 * Starts the stack in its own process group and waits for its whole banner: to its last line
 * ("Ctrl-C stops ..."), not its first ("mend is up"), whose lines may come in more than one read.
 */
export async function up(env: NodeJS.ProcessEnv): Promise<Spawned> {
  const started = spawnTs('scripts/dev-stack.ts', env, { detached: true });
  await waitFor(
    'the "mend is up" banner',
    120_000,
    () =>
      started.output.some((l) => l.startsWith('[mend] Ctrl-C stops')) ||
      (started.proc.exitCode !== null && Promise.reject(new GiveUp(started.output.join('\n')))),
  );
  return started;
}

/**
 * SIGTERMs the stack's whole group, as Ctrl-C or a service manager would; it must exit 0, leaving only
 * `survivors` (pids). The signal does not reach the Temporal server (a group of its own): the worker
 * drains against a server still up, so none of its calls is retried against a server gone.
 */
export async function down(started: Spawned, home: string, survivors: number[] = []): Promise<void> {
  process.kill(-started.proc.pid!, 'SIGTERM');
  const code = await started.exited;
  assert.equal(code, 0, started.output.slice(-10).join('\n'));
  assert.deepEqual(
    started.output.filter((l) => /retried \d+ times/.test(l)),
    [],
    `calls to the server retried while the stack stopped; its output:\n${started.output.slice(-60).join('\n')}`,
  );
  const left = () => processesOf(home).filter((line) => !survivors.includes(pidOfLine(line)));
  await waitFor('no process of the stack left', 10_000, () => left().length === 0).catch(() => {
    assert.deepEqual(left(), [], 'processes left behind');
  });
}

/**
 * Stops a detached test stack that is still running after its test (a failed one): SIGTERM first,
 * so it stops its components as on Ctrl-C (a SIGKILL would leave them running, and the next test
 * would find the ports taken), then SIGKILL if it does not exit within 20 s.
 */
export async function stopLeftover(stack: Spawned | undefined): Promise<void> {
  if (!stack || stack.proc.exitCode !== null) return;
  process.kill(-stack.proc.pid!, 'SIGTERM');
  const exited = await Promise.race([stack.exited.then(() => true), new Promise<false>((resolve) => setTimeout(() => resolve(false), 20_000).unref())]);
  if (!exited) {
    process.kill(-stack.proc.pid!, 'SIGKILL');
    await stack.exited;
  }
}

/** SIGKILLs a process that may already be gone (a dependent its supervisor is restarting just then). */
export function killIfAlive(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}
