/** monit running the bench services: a process check plus an HTTP check, cycle = interval. */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT, run, stopGroup, waitUntil, healthy } from '../lib/util';
import { healthUrl, type BenchService, type Peer, type PeerSettings } from './types';

export function monitPeer(dir: string, settings: PeerSettings): Peer {
  const rc = path.join(dir, 'monitrc');
  const logFile = path.join(dir, 'monit.log');
  let child: ChildProcess | undefined;
  const pidFile = (s: BenchService) => path.join(dir, `${s.name}.pid`);
  return {
    name: 'monit',
    version: 'monit',
    async start(services: BenchService[]) {
      this.version = (await run('monit', ['-V'])).out
        .split('\n')[0]!
        .replace(/^This is /, '')
        .trim();
      const checks = services.map((s) => {
        const env = Object.entries({ MEND_DEMO_NAME: s.name, PORT: String(s.port), STATE_FILE: s.stateFile, ...s.env })
          .map(([k, v]) => `${k}='${v}'`)
          .join(' ');
        // monit runs a start program without a shell: a small script backgrounds the service and writes its pid.
        const script = path.join(dir, `start-${s.name}.sh`);
        writeFileSync(
          script,
          `#!/bin/sh\ncd ${ROOT}\n${env} exec ${process.execPath} demo/service.js >> ${path.join(dir, `${s.name}.log`)} 2>&1 &\necho $! > ${pidFile(s)}\n`,
          { mode: 0o755 },
        );
        return [
          `check process ${s.name} with pidfile ${pidFile(s)}`,
          // monit holds connection tests while a process is younger than its start timeout; a
          // hang in a process restarted a moment ago (the previous trial) would wait that out. The
          // service answers within a second of its start, so 2 s is a fair start timeout.
          `  start program = "/bin/sh ${script}" with timeout 2 seconds`,
          `  stop program = "/bin/sh -c 'kill -9 $(cat ${pidFile(s)}) 2>/dev/null; true'"`,
          `  if failed host 127.0.0.1 port ${s.port} protocol http request "/healthz" with timeout ${Math.ceil(settings.timeoutMs / 1000)} seconds for ${settings.failures} cycles then restart`,
          // monit stops a service's dependents before restarting it and starts them after it.
          ...(s.dependsOn?.length ? [`  depends on ${s.dependsOn.join(', ')}`] : []),
        ].join('\n');
      });
      writeFileSync(
        rc,
        [
          `set daemon ${Math.max(1, Math.round(settings.intervalMs / 1000))}`,
          `set logfile ${logFile}`,
          `set pidfile ${path.join(dir, 'monit.pid')}`,
          `set idfile ${path.join(dir, 'monit.id')}`,
          `set statefile ${path.join(dir, 'monit.state')}`,
          ...checks,
        ].join('\n') + '\n',
      );
      chmodSync(rc, 0o600);
      child = spawn('tini', ['-s', '--', 'monit', '-I', '-c', rc], { detached: true, stdio: 'ignore' });
      await waitUntil('monit services', 30_000, async () => (await Promise.all(services.map((s) => healthy(healthUrl(s))))).every(Boolean));
    },
    async stop() {
      if (child) await stopGroup(child);
      for (const file of readdirPids(dir)) {
        try {
          process.kill(Number(readFileSync(file, 'utf8').trim()), 'SIGKILL');
        } catch {
          // already gone
        }
      }
    },
    async alerted() {
      // Without `set alert` and a mail server monit only logs; that is what a default setup has.
      return false;
    },
    async state(service: string) {
      const lines = readFileSync(logFile, 'utf8')
        .split('\n')
        .filter((l) => l.includes(`'${service}'`));
      // The last thing monit said about it, without the start script's path.
      return (
        lines
          .at(-1)
          ?.replace(/^.*?: /, '')
          .replace(/ start: '[^']*'/, ' start program run (no backoff)') ?? 'unknown'
      );
    },
  };
}

function readdirPids(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.pid') && f !== 'monit.pid')
    .map((f) => path.join(dir, f));
}
