/** Shared by the API tests: a token per role (one operator scoped to one component) and an app built with them. */
import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { buildApp, type ApiDeps } from '../api/app';
import { generateToken, TokenTable } from '../api/auth';
import type { MendClient, StartedRun, StartRecoveryRequest, StartSagaRequest } from '../client';
import type { QueryDefinition } from '@temporalio/workflow';
import { supervisorSpec } from '../client/schedules';
import { recoveryWorkflowId, sagaWorkflowId, supervisorWorkflowId } from '../core/constants';
import { WORKFLOW_TYPES } from '../core/workflow-types';
import { waitFor } from '../scripts/wait-for';
import type { Config } from '../core/schemas';

export interface TestTokens {
  admin: string;
  operator: string;
  /** An operator that may act only on `scopedTo`. */
  scoped: string;
  viewer: string;
}

export function makeTokens(scopedTo: string): { tokens: TestTokens; table: TokenTable } {
  const tokens: TestTokens = { admin: generateToken(), operator: generateToken(), scoped: generateToken(), viewer: generateToken() };
  const table = new TokenTable([
    { name: 'test-admin', token: tokens.admin, role: 'admin' },
    { name: 'test-operator', token: tokens.operator, role: 'operator' },
    { name: 'test-scoped', token: tokens.scoped, role: 'operator', components: [scopedTo] },
    { name: 'test-viewer', token: tokens.viewer, role: 'viewer' },
  ]);
  return { tokens, table };
}

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/** Captures the app's JSON log lines. */
export function logCapture(): { lines: string[]; stream: Writable } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      done();
    },
  });
  return { lines, stream };
}

export async function testApp(mend: MendClient, config: Config, table: TokenTable, extra: Partial<ApiDeps> = {}): Promise<FastifyInstance> {
  // Tests present many wrong tokens on purpose: the guessing guard gets its own test.
  return buildApp({ mend, config, tokens: table, authFailureLimit: { burst: 100_000, perMinute: 100_000 }, ...extra });
}

/**
 * The real client, except that starts (recoveries and sagas) are recorded instead of made (auth and
 * input tests must prove what would start without leaving runs behind). `startsThrough: true` lets them through.
 */
export function spyClient(
  real: MendClient,
  opts: { startsThrough?: boolean } = {},
): { mend: MendClient; starts: StartRecoveryRequest[]; sagaStarts: StartSagaRequest[] } {
  const starts: StartRecoveryRequest[] = [];
  const sagaStarts: StartSagaRequest[] = [];
  const mend = new Proxy(real, {
    get(target, prop, receiver) {
      if (prop === 'startRecovery') {
        return async (req: StartRecoveryRequest): Promise<StartedRun> => {
          starts.push(req);
          if (opts.startsThrough) return target.startRecovery(req);
          const workflowId = recoveryWorkflowId(req.component.id);
          return { workflowId, runId: 'not-started', url: target.runUrl(workflowId) };
        };
      }
      if (prop === 'startSaga') {
        return async (req: StartSagaRequest): Promise<StartedRun> => {
          sagaStarts.push(req);
          if (opts.startsThrough) return target.startSaga(req);
          const workflowId = sagaWorkflowId(req.saga.name, req.requestId);
          return { workflowId, runId: 'not-started', url: target.runUrl(workflowId) };
        };
      }
      return Reflect.get(target, prop, receiver) as unknown;
    },
  });
  return { mend, starts, sagaStarts };
}

/** An Alertmanager payload with one firing alert per component. */
export function alertPayload(...components: string[]) {
  return {
    version: '4',
    groupKey: '{}:{alertname="Down"}',
    status: 'firing',
    receiver: 'mend',
    groupLabels: { alertname: 'Down' },
    commonLabels: { alertname: 'Down' },
    commonAnnotations: {},
    externalURL: 'http://alertmanager:9093',
    alerts: components.map((c, i) => ({
      status: 'firing',
      labels: { alertname: 'Down', component: c },
      annotations: { summary: `${c} is down` },
      startsAt: '2026-11-23T10:00:00Z',
      endsAt: '0001-01-01T00:00:00Z',
      generatorURL: 'http://prometheus:9090/graph',
      fingerprint: `f${i}`,
    })),
  };
}

/**
 * Starts the supervisors of `ids` from `config` on `queue`, those in `mute` on a queue no worker polls
 * (their queries are never answered); returns their workflow ids, to terminate after the tests.
 */
export async function startSupervisors(mend: MendClient, config: Config, queue: string, ids: string[], mute: string[] = []): Promise<string[]> {
  const started: string[] = [];
  for (const id of ids) {
    const component = config.components.find((c) => c.id === id)!;
    await mend.temporal.workflow.start(WORKFLOW_TYPES.supervisor, {
      workflowId: supervisorWorkflowId(id),
      taskQueue: mute.includes(id) ? mutedQueue(queue) : queue,
      args: [{ spec: supervisorSpec(component, config) }],
    });
    started.push(supervisorWorkflowId(id));
  }
  return started;
}

/** A task queue no worker polls. */
export const mutedQueue = (queue: string) => `${queue}-nobody`;

/** Waits until the workflow answers `query` (its worker has picked it up). */
export async function answering(mend: MendClient, workflowId: string, query: QueryDefinition<unknown, []>): Promise<void> {
  await waitFor(`${workflowId} answers`, 60_000, () =>
    mend.temporal.workflow
      .getHandle(workflowId)
      .query(query)
      .then(() => true)
      .catch(() => false),
  );
}
