/**
 * mend's long-running processes (worker, API, agent) run from the CLI in the foreground: a child
 * `node --require ./bin/ts-hook.js <mend>/<script>`, so they work the same from a checkout and from an installed
 * package (node_modules/mend). The child runs in mend's own folder, where the hook is found; the file
 * settings the caller gave, or their defaults, are made absolute first so they stay the caller's.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { TS_HOOK_ARGS } from '../workers/node-args';

const ROOT = path.resolve(__dirname, '..');

/** Settings naming files or folders, with their defaults (relative to where the command was run). */
const PATH_SETTINGS: Record<string, string | undefined> = {
  MEND_CONFIG: 'mend.config.yaml',
  MEND_HOME: '.mend',
  MEND_TOKENS_FILE: undefined,
  MEND_WORKFLOW_BUNDLE: undefined,
};

/** The environment with the path settings absolute (from `cwd`); unset optional ones stay unset. */
export function absolutePathSettings(env: NodeJS.ProcessEnv, cwd: string): NodeJS.ProcessEnv {
  const out = { ...env };
  for (const [name, fallback] of Object.entries(PATH_SETTINGS)) {
    const value = out[name] || fallback;
    if (value) out[name] = path.resolve(cwd, value);
  }
  return out;
}

/** Runs `script` (relative to mend's root; `nodeArgs`: how node loads it) until it exits, passing on stop signals; resolves its exit code. */
export async function runForeground(script: string, args: string[] = [], nodeArgs: readonly string[] = TS_HOOK_ARGS): Promise<number> {
  const child = spawn(process.execPath, [...nodeArgs, path.join(ROOT, script), ...args], {
    cwd: ROOT,
    stdio: 'inherit',
    env: absolutePathSettings(process.env, process.cwd()),
  });
  // The process stops on these itself (a terminal's Ctrl-C reaches the whole group): pass them on when sent to mend alone.
  const forward = (signal: NodeJS.Signals) => () => void child.kill(signal);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, forward(signal));
  return new Promise<number>((resolve) => child.once('exit', (c, signal) => resolve(c ?? (signal ? 1 : 0))));
}
