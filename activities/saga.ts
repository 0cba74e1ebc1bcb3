/** The saga's command action: an operator-given argv run once per step of a run. */
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { ApplicationFailure, Context } from '@temporalio/activity';
import { lastLine, runArgv } from '../domain/adapters/exec';

export interface RunCommandInput {
  command: string[];
  cwd?: string;
  env?: Record<string, string>;
  timeoutMs: number;
  /** Unique to this step of this run (workflow id, run id, step, action or compensation). */
  key: string;
}

export interface RunCommandResult {
  exitCode: number;
  detail: string;
  /** True when an earlier attempt already ran it to success (this attempt did nothing). */
  replayed: boolean;
}

export function createSagaActivities(stateDir: string) {
  const markers = path.join(stateDir, 'saga-done');
  return {
    /**
     * Idempotent across retries: after the command exits 0 a marker named for the step's key is
     * written; a retry (say after the worker died before reporting) finds it and runs nothing.
     * A command interrupted mid-way runs again, so saga commands should be safe to repeat. The
     * marker is on this worker's MEND_HOME: with workers on several hosts, keep it on shared storage.
     */
    async runCommand({ command, cwd, env, timeoutMs, key }: RunCommandInput): Promise<RunCommandResult> {
      const marker = path.join(markers, `${createHash('sha256').update(key).digest('hex').slice(0, 32)}.json`);
      const done = await fs.readFile(marker, 'utf8').then(
        (t) => JSON.parse(t) as RunCommandResult,
        () => undefined,
      );
      if (done) return { ...done, replayed: true };

      const ctx = Context.current();
      const res = await runArgv(command, { cwd, env, timeoutMs, heartbeat: () => ctx.heartbeat(), signal: ctx.cancellationSignal });
      // Cancelled (the saga was cancelled): the command and its group were stopped; say so, not "timeout".
      if (ctx.cancellationSignal.aborted) throw ctx.cancellationSignal.reason ?? new Error('cancelled');
      if (res.kind === 'cannot-run') throw ApplicationFailure.create({ message: res.message, type: 'resource', nonRetryable: true });
      if (res.kind === 'timeout') throw ApplicationFailure.create({ message: `${command[0]} did not finish within ${timeoutMs}ms`, type: 'timeout' });
      if (res.code !== 0) {
        const why = res.code === null ? `killed by ${res.signal}` : `exit ${res.code}`;
        throw ApplicationFailure.create({ message: `${command.join(' ')}: ${why}${lastLine(res.output) ? `: ${lastLine(res.output)}` : ''}`, type: 'unknown' });
      }
      const result: RunCommandResult = { exitCode: 0, detail: lastLine(res.output) || 'exit 0', replayed: false };
      await fs.mkdir(markers, { recursive: true });
      const tmp = `${marker}.${process.pid}.tmp`;
      await fs.writeFile(tmp, JSON.stringify(result));
      await fs.rename(tmp, marker);
      return result;
    },
  };
}
