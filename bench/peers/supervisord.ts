/**
 * supervisord (Debian's `supervisor`) running the bench services: restart on exit, no health probe.
 * It has no dependencies: a service's `dependsOn` only orders start-up (a higher `priority` number
 * starts later), which is all supervisord offers.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT, run, stopGroup, waitUntil, healthy } from '../lib/util';
import { healthUrl, type BenchService, type Peer } from './types';

export function supervisordPeer(dir: string): Peer {
  const conf = path.join(dir, 'supervisord.conf');
  let child: ChildProcess | undefined;
  const ctl = (...args: string[]) => run('supervisorctl', ['-c', conf, ...args]);
  return {
    name: 'supervisord',
    version: 'supervisord',
    async start(services: BenchService[]) {
      const version = await run('supervisord', ['--version']);
      this.version = `supervisord ${version.out.trim()}`;
      const depth = (name: string, seen: string[] = []): number => {
        const deps = services.find((x) => x.name === name)?.dependsOn ?? [];
        return deps.length === 0 || seen.includes(name) ? 0 : 1 + Math.max(...deps.map((d) => depth(d, [...seen, name])));
      };
      const programs = services.map((s) => {
        const env = { MEND_DEMO_NAME: s.name, PORT: String(s.port), STATE_FILE: s.stateFile, ...s.env };
        return [
          `[program:${s.name}]`,
          `command=${process.execPath} ${path.join(ROOT, 'demo/service.js')}`,
          `directory=${dir}`,
          `environment=${Object.entries(env)
            .map(([k, v]) => `${k}="${v}"`)
            .join(',')}`,
          // A dependent is started by hand once its dependencies answer (supervisord would start it at once).
          `autostart=${s.dependsOn?.length ? 'false' : 'true'}`,
          // supervisord's default priority is 999; dependencies first, as far as start order goes.
          `priority=${100 + 100 * depth(s.name)}`,
          'autorestart=true',
          // Defaults, spelled out: up 1 s counts as started; 3 quick failures make it FATAL.
          'startsecs=1',
          'startretries=3',
          'stopasgroup=true',
          'killasgroup=true',
          `stdout_logfile=${path.join(dir, `${s.name}.log`)}`,
          'redirect_stderr=true',
        ].join('\n');
      });
      writeFileSync(
        conf,
        [
          '[unix_http_server]',
          `file=${path.join(dir, 'supervisor.sock')}`,
          '[supervisord]',
          `logfile=${path.join(dir, 'supervisord.log')}`,
          `pidfile=${path.join(dir, 'supervisord.pid')}`,
          'nodaemon=true',
          '[rpcinterface:supervisor]',
          'supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface',
          '[supervisorctl]',
          `serverurl=unix://${path.join(dir, 'supervisor.sock')}`,
          ...programs,
        ].join('\n') + '\n',
      );
      // tini -s reaps orphans promptly (DESIGN §11); supervisord reaps its own children.
      child = spawn('tini', ['-s', '--', 'supervisord', '-n', '-c', conf], { detached: true, stdio: 'ignore' });
      for (const s of services.filter((x) => x.dependsOn?.length)) {
        const needs = services.filter((x) => s.dependsOn!.includes(x.name));
        await waitUntil(`${s.name}'s dependencies`, 30_000, async () => (await Promise.all(needs.map((x) => healthy(healthUrl(x))))).every(Boolean));
        const started = await ctl('start', s.name);
        if (started.code !== 0) throw new Error(`bench: supervisorctl start ${s.name} failed: ${started.out.trim()}`);
      }
      await waitUntil('supervisord services', 30_000, async () => (await Promise.all(services.map((s) => healthy(healthUrl(s))))).every(Boolean));
    },
    async stop() {
      if (child) await stopGroup(child);
    },
    async state(service: string) {
      return (await ctl('status', service)).out.trim().split(/\s+/)[1] ?? 'unknown';
    },
    async alerted() {
      // supervisord has no alerting of its own (an event listener would have to be written).
      return false;
    },
  };
}
