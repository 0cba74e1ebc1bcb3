/**
 * Simulated hosts for tests and benchmarks (DESIGN §2a): each host is a PID namespace with its own /proc, held open
 * by a `sleep` as its PID 1, with its own agent (entered into the namespace with nsenter) and its own
 * MEND_HOME. A process one host's agent starts is invisible to the other hosts, so a misrouted action
 * fails for real. Needs root (unshare --pid).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';

import { GiveUp, waitFor as waitUntil } from './wait-for';
import { AGENT_NODE_ARGS } from '../workers/node-args';

const ROOT = path.resolve(__dirname, '..');
const waitFor: typeof waitUntil = (what, timeoutMs, check) => waitUntil(what, timeoutMs, check, 50);

export const canSimulateHosts = process.getuid?.() === 0;

export interface SimAgent {
  /** nsenter, which waits for the agent. */
  proc: ChildProcess;
  /** The agent's pid as seen from outside the namespace. */
  pid: number;
  output: string[];
  exited: Promise<void>;
  /** The worker identity it announced (its pid in there is the one inside the namespace). */
  identity: string;
}

/** A process run inside a host's namespace (see SimHost.spawn). */
export interface SimProcess {
  /** nsenter, which waits for the process and passes its stdio through. */
  proc: ChildProcess;
  /** The process's pid as seen from outside the namespace (for /proc sampling). */
  pid: number;
  exited: Promise<void>;
}

export interface SimHost {
  id: string;
  home: string;
  /** Outside pid of the namespace's PID 1 (what nsenter targets). */
  nsPid: number;
  agent?: SimAgent;
  startAgent(): Promise<SimAgent>;
  /** Runs `command` inside the namespace (a service of this host: it dies with the host). */
  spawn(command: string[], opts?: { env?: NodeJS.ProcessEnv; stdout?: 'pipe' | 'ignore' }): Promise<SimProcess>;
  /** Kills the agent only (SIGKILL): its processes stay in the namespace, as on a real host. */
  killAgent(): Promise<void>;
  /** `/proc/<pid>/environ` of a pid as this host sees it, or undefined when it has no such pid. */
  environ(pid: number): string | undefined;
  /** Kills the whole host at once: SIGKILL to its PID 1, so its agent and every service in it die together. */
  kill(): Promise<void>;
  /** Stops the agent and the whole namespace (every process in it dies with its PID 1). */
  stop(): Promise<void>;
}

function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

const exitOf = (proc: ChildProcess) =>
  new Promise<void>((resolve) => (proc.exitCode !== null || proc.signalCode !== null ? resolve() : proc.once('exit', () => resolve())));

/**
 * Starts the namespace of host `id`; its agent polls `<queue>/host/<id>` of the server at `address`
 * with MEND_HOME `home` (and `env` on top, e.g. MEND_LOG_LEVEL).
 */
export async function startSimHost(id: string, queue: string, home: string, address: string, env: Record<string, string> = {}): Promise<SimHost> {
  const holder = spawn('unshare', ['--pid', '--fork', '--mount-proc', '--kill-child', 'sleep', 'infinity'], { stdio: 'ignore' });
  const nsPid = await waitFor(`namespace of host ${id}`, 10_000, () => childrenOf(holder.pid!)[0]);
  const host: SimHost = {
    id,
    home,
    nsPid,
    async startAgent() {
      const agentEnv = { ...process.env, MEND_TEMPORAL_ADDRESS: address, MEND_TASK_QUEUE: queue, MEND_HOME: home, ...env };
      const proc = spawn(
        'nsenter',
        [
          '--target',
          String(nsPid),
          '--pid',
          '--mount',
          `--wd=${ROOT}`,
          '--',
          process.execPath,
          ...AGENT_NODE_ARGS,
          path.join(ROOT, 'workers/agent.ts'),
          '--host',
          id,
        ],
        {
          cwd: ROOT,
          env: agentEnv,
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      const output: string[] = [];
      for (const stream of [proc.stdout!, proc.stderr!]) readline.createInterface({ input: stream }).on('line', (line) => output.push(line));
      const exited = exitOf(proc);
      await waitFor(
        `agent of ${id} to poll`,
        60_000, // a loaded shared machine has taken over 30 s to start one
        () => output.some((l) => l.includes('agent polling')) || (proc.exitCode !== null && Promise.reject(new GiveUp(`agent exited: ${output.join('\n')}`))),
      );
      const pid = await waitFor(`pid of the agent of ${id}`, 5_000, () => childrenOf(proc.pid!)[0]);
      const identity = / as (mend-agent\/.+)$/.exec(output.find((l) => l.includes('agent polling'))!)![1]!;
      host.agent = { proc, pid, output, exited, identity };
      return host.agent;
    },
    async spawn(command, opts = {}) {
      const proc = spawn('nsenter', ['--target', String(nsPid), '--pid', '--mount', `--wd=${ROOT}`, '--', ...command], {
        cwd: ROOT,
        env: opts.env ?? process.env,
        stdio: ['ignore', opts.stdout ?? 'ignore', 'inherit'],
      });
      const exited = exitOf(proc);
      const pid = await waitFor(
        `a process of ${id} to start`,
        10_000,
        () => childrenOf(proc.pid!)[0] || (proc.exitCode !== null && Promise.reject(new GiveUp(`${command[0]} exited with ${proc.exitCode}`))),
      );
      return { proc, pid, exited };
    },
    async killAgent() {
      const agent = host.agent;
      if (!agent) return;
      process.kill(agent.pid, 'SIGKILL');
      await agent.exited;
      host.agent = undefined;
    },
    environ(pid: number) {
      try {
        return execFileSync('nsenter', ['--target', String(nsPid), '--pid', '--mount', '--', 'cat', `/proc/${pid}/environ`], {
          encoding: 'utf8',
          stdio: ['ignore', 'pipe', 'ignore'],
        });
      } catch {
        return undefined;
      }
    },
    async kill() {
      const agent = host.agent;
      process.kill(nsPid, 'SIGKILL');
      await exitOf(holder);
      if (agent) await agent.exited;
      host.agent = undefined;
    },
    async stop() {
      const agent = host.agent;
      if (agent) {
        try {
          process.kill(agent.pid, 'SIGTERM');
        } catch {
          // already gone
        }
        await Promise.race([agent.exited, new Promise((r) => setTimeout(r, 15_000))]);
      }
      holder.kill('SIGKILL');
      await exitOf(holder);
    },
  };
  return host;
}
