/** Health probes: each answers healthy or unhealthy with a failure class; none changes anything. */
import net from 'node:net';
import type { CommandProbe, Component, HttpProbe, TcpProbe } from '../../core/schemas';
import { classifyErrorCode, classifyHttpStatus, type ProbeResult } from '../../core/failure';
import { lastLine, runArgv } from '../adapters/exec';
import { deathOf, processAdapter, runningProcess } from '../adapters/process';
import { probeRequest, type ProbeRequestError } from './http-get';

/**
 * Probes the component. A failed probe of a `process` component whose recorded process is dead says
 * what happened instead of how the probe failed: `crash` (with its exit code or signal, when this
 * worker started it, and its last log lines), or `resource` when its log says its address was
 * already in use. A hang (the process alive, the probe timing out) stays `timeout`.
 */
export async function probeComponent(component: Component): Promise<ProbeResult> {
  const result = await probeOnce(component);
  if (result.healthy || component.adapter.type !== 'process' || result.failureClass === 'timeout' || result.failureClass === 'auth') return result;
  const death = await deathOf(component.adapter, 'process exited').catch(() => undefined);
  return death ? { ...result, failureClass: death.failureClass, detail: `${death.detail}; probe: ${result.detail}` } : result;
}

async function probeOnce(component: Component): Promise<ProbeResult> {
  const probe = component.probe;
  switch (probe.type) {
    case 'http':
      return probeHttp(probe);
    case 'tcp':
      return probeTcp(probe);
    case 'process':
      return probeProcess(component);
    case 'command':
      return probeCommand(probe);
  }
}

export async function probeHttp(probe: HttpProbe): Promise<ProbeResult> {
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  try {
    const res = await probeRequest(probe.url, probe.method, probe.timeout, probe.bodyIncludes !== undefined);
    if (res.status !== probe.expectStatus) {
      return {
        healthy: false,
        failureClass: classifyHttpStatus(res.status),
        detail: `HTTP ${res.status} (expected ${probe.expectStatus})`,
        latencyMs: elapsed(),
      };
    }
    if (probe.bodyIncludes !== undefined && !res.body.includes(probe.bodyIncludes)) {
      return { healthy: false, failureClass: 'data', detail: `body does not include ${JSON.stringify(probe.bodyIncludes)}`, latencyMs: elapsed() };
    }
    return { healthy: true, detail: `HTTP ${res.status}`, latencyMs: elapsed() };
  } catch (err) {
    const e = err as ProbeRequestError;
    const failureClass = classifyErrorCode(e.code, e.name);
    const detail = failureClass === 'timeout' ? `no answer within ${probe.timeout}ms` : `${e.code ?? e.name}: ${e.message}`;
    return { healthy: false, failureClass, detail, latencyMs: elapsed() };
  }
}

export function probeTcp(probe: TcpProbe): Promise<ProbeResult> {
  const started = performance.now();
  return new Promise((resolve) => {
    const socket = net.connect({ host: probe.host, port: probe.port });
    const done = (result: Omit<ProbeResult, 'latencyMs'>) => {
      socket.destroy();
      resolve({ ...result, latencyMs: Math.round(performance.now() - started) });
    };
    socket.setTimeout(probe.timeout, () => done({ healthy: false, failureClass: 'timeout', detail: `no connection within ${probe.timeout}ms` }));
    socket.once('connect', () => done({ healthy: true, detail: `connected to ${probe.host}:${probe.port}` }));
    socket.once('error', (err: NodeJS.ErrnoException) =>
      done({ healthy: false, failureClass: classifyErrorCode(err.code), detail: `${err.code ?? 'error'}: ${err.message}` }),
    );
  });
}

/** Healthy iff the argv (no shell) exits 0 within the timeout; the detail ends with its last output line. */
export async function probeCommand(probe: CommandProbe): Promise<ProbeResult> {
  const result = await runArgv(probe.command, { cwd: probe.cwd, timeoutMs: probe.timeout });
  const latencyMs = result.durationMs;
  switch (result.kind) {
    case 'cannot-run':
      return { healthy: false, failureClass: 'resource', detail: result.message, latencyMs };
    case 'timeout':
      return { healthy: false, failureClass: 'timeout', detail: withLine(`no exit within ${probe.timeout}ms`, result.output), latencyMs };
    case 'exited': {
      const how = result.signal ? `killed by ${result.signal}` : `exit ${result.code}`;
      return result.code === 0
        ? { healthy: true, detail: withLine(how, result.output), latencyMs }
        : { healthy: false, failureClass: 'unknown', detail: withLine(how, result.output), latencyMs };
    }
  }
}

function withLine(what: string, output: string): string {
  const line = lastLine(output);
  return line ? `${what}: ${line}` : what;
}

async function probeProcess(component: Component): Promise<ProbeResult> {
  const started = performance.now();
  const running = await runningProcess(processAdapter(component));
  const latencyMs = Math.round(performance.now() - started);
  return running
    ? { healthy: true, detail: `pid ${running.pid} alive`, latencyMs }
    : { healthy: false, failureClass: 'unknown', detail: 'process not running', latencyMs };
}
