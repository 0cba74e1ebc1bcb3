/** Who a worker is, as Temporal records it on every task it picks up (and `mend hosts` reads back). */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** mend's version, from its package.json. */
export const MEND_VERSION: string = (JSON.parse(readFileSync(path.join(__dirname, '..', 'package.json'), 'utf8')) as { version: string }).version;

/**
 * `mend-agent/<host>@<machine> pid <pid> v<version> started <iso>` (or `mend-worker/...` for the
 * central worker): the activity-task-started events of a run name the worker that acted, so the
 * Web UI shows on which host each step ran. Parsed back by core/host-status.ts.
 */
export function workerIdentity(role: 'agent' | 'worker', host: string, startedAt = new Date()): string {
  return `mend-${role}/${host}@${os.hostname()} pid ${process.pid} v${MEND_VERSION} started ${startedAt.toISOString()}`;
}
