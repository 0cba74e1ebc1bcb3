/** Small helpers the benchmark scenarios share: a clock, health polling, waiting, processes. */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { performance } from 'node:perf_hooks';

export const ROOT = path.resolve(__dirname, '../..');
export const now = () => performance.now();
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One GET with a short timeout: true on a 2xx. */
export async function healthy(url: string, timeoutMs = 200): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    await res.body?.cancel();
    return res.ok;
  } catch {
    return false;
  }
}

/** Polls every `pollMs` until `url` answers 2xx; resolves with the clock reading at that answer, or undefined at the deadline. */
export async function firstHealthy(url: string, deadlineMs: number, pollMs = 10): Promise<number | undefined> {
  const end = now() + deadlineMs;
  while (now() < end) {
    if (await healthy(url, 150)) return now();
    await sleep(pollMs);
  }
  return undefined;
}

export async function waitUntil(what: string, timeoutMs: number, check: () => boolean | Promise<boolean>, pollMs = 50): Promise<void> {
  const end = now() + timeoutMs;
  while (now() < end) {
    if (await check()) return;
    await sleep(pollMs);
  }
  throw new Error(`bench: timed out after ${timeoutMs}ms waiting for ${what}`);
}

/** Stays healthy for `ms` in a row (restart storms and start-up grace periods settle first). */
export async function steadyHealthy(url: string, ms: number, timeoutMs = 30_000): Promise<void> {
  const end = now() + timeoutMs;
  let since: number | undefined;
  while (now() < end) {
    if (await healthy(url, 300)) {
      since ??= now();
      if (now() - since >= ms) return;
    } else {
      since = undefined;
    }
    await sleep(50);
  }
  throw new Error(`bench: ${url} did not stay healthy for ${ms}ms`);
}

/** The pid listening behind a demo service's /healthz (it reports its pid). */
export async function servicePid(url: string): Promise<number | undefined> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(500) });
    const body = (await res.json()) as { pid?: number };
    return body.pid;
  } catch {
    return undefined;
  }
}

export function run(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: opts.cwd ?? ROOT, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.once('error', (err) => resolve({ code: 127, out: err.message }));
    child.once('exit', (code) => resolve({ code, out }));
  });
}

/**
 * Ends a child and its process group (a detached child leads its own), waiting until all of it is
 * gone: SIGTERM, then SIGKILL after `graceMs`. The group is signalled even when the child itself has
 * exited: a wrapper (tini) gone before what it started would otherwise leave supervisord and its
 * services running, still writing into the folder about to be removed.
 */
export async function stopGroup(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM', graceMs = 5_000): Promise<void> {
  const pid = child.pid;
  if (pid === undefined) return;
  const exited = () => child.exitCode !== null || child.signalCode !== null;
  const groupLives = () => {
    try {
      process.kill(-pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  const running = () => !exited() || groupLives();
  const send = (sig: NodeJS.Signals) => {
    try {
      process.kill(-pid, sig);
    } catch {
      if (!exited()) child.kill(sig);
    }
  };
  const gone = async (ms: number) => {
    const until = Date.now() + ms;
    while (running() && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    return !running();
  };
  if (!running()) return;
  send(signal);
  if (await gone(graceMs)) return;
  send('SIGKILL');
  await gone(5_000);
}

export function log(line: string): void {
  process.stderr.write(`[bench] ${line}\n`);
}
