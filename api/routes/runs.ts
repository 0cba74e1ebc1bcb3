/**
 * Runs: start (one per component, trigger `api`, requested by the token's name), list through
 * visibility, describe with progress, and pause / resume / cancel / approve.
 */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { AlreadyRunningError, type StartedRun } from '../../client';
import { READ_QUERY_WAIT_MS } from '../../client/partial-reads';
import { listRuns } from '../../client/runs';
import {
  ApproveBodySchema,
  ApproveResponseSchema,
  ControlBodySchema,
  ControlResponseSchema,
  RunDetailSchema,
  RunIdParamsSchema,
  RunListQuerySchema,
  RunListSchema,
  StartRunsBodySchema,
  StartRunsResponseSchema,
} from '../../core/api';
import { workflowIdOf } from '../../core/visibility';
import { errorResponses, HttpError } from '../errors';
import { componentsById, principalOf, requireRole, requireRunScope, requireScope, runningRecovery, takeStarts } from './common';
import type { V1Options } from './index';
import { customRunbookNames, startTarget } from '../../client/runbooks';
import { knownHosts } from '../../core/hosts';
import { strategyProblem } from '../../core/runbooks';

const security = [{ bearer: [] }];

export const runRoutes: FastifyPluginAsyncZod<V1Options> = async (app, { deps }) => {
  const { mend, config, startLimiter } = deps;

  app.post(
    '/runs',
    {
      config: { auth: 'operator' },
      schema: {
        tags: ['runs'],
        summary: 'start a recovery per component, or a host or untargeted runbook (emergency-reset needs admin)',
        description:
          "One run per component, as `mend/recover/<component>`. Nothing starts when a component is unknown, out of the token's scope, or already recovering (409 with its workflow id). A custom runbook with `targets: host` takes `host` instead of `components` and runs as `mend/host-runbook/<host>` (one at a time per host); one with `targets: none` takes neither and runs as `mend/runbook/<name>`; a token scoped to components may start neither.",
        security,
        body: StartRunsBodySchema,
        response: {
          202: StartRunsResponseSchema.describe('started: one run per component, in the order asked'),
          ...errorResponses(400, 401, 403, 404, 409, 413, 415, 429, 503),
        },
      },
    },
    async (request, reply) => {
      const principal = principalOf(request);
      const body = request.body;
      if (body.strategy === 'emergency-reset') requireRole(principal, 'admin', 'an emergency reset');
      const unknownStrategy = strategyProblem(body.strategy, customRunbookNames(config));
      if (unknownStrategy) throw new HttpError(400, `strategy: ${unknownStrategy}`);
      const planned = startTarget(config, body.strategy, { components: body.components ?? [], host: body.host });
      if ('problem' in planned) throw new HttpError(planned.problem.status, `${planned.problem.field}: ${planned.problem.message}`);
      if (planned.targets !== 'components') {
        if (principal.components) throw new HttpError(403, `${principal.name} is scoped to components; a runbook on a host or on no target acts beyond them`);
        await takeStarts(startLimiter, request, 1);
        const run = await mend.startTargetedRun({
          runbook: body.strategy,
          target: planned.target,
          hosts: knownHosts(config),
          trigger: 'api',
          requestedBy: principal.name,
          reason: body.reason,
          dryRun: body.dryRun,
        });
        deps.metrics.runStarted(body.strategy, 'api');
        request.log.info({ workflowId: run.workflowId, by: principal.name, strategy: body.strategy }, 'run started');
        const host = planned.target.kind === 'host' ? planned.target.host : undefined;
        return reply.code(202).send({ ...run, runs: [{ host, ...run }] });
      }
      const ids = body.components ?? [];
      const components = componentsById(config, ids);
      requireScope(principal, ids);
      // Checked before anything starts, so a refused request starts nothing.
      for (const c of components) {
        const running = await runningRecovery(mend, c.id);
        if (running) throw new AlreadyRunningError(running.workflowId, running.runId);
      }
      await takeStarts(startLimiter, request, components.length);

      const runs: Array<StartedRun & { component: string }> = [];
      for (const component of components) {
        try {
          const run = await mend.startRecovery({
            strategy: body.strategy,
            component,
            trigger: 'api',
            requestedBy: principal.name,
            reason: body.reason,
            dryRun: body.dryRun,
            options: body.options,
            allComponents: config.components,
          });
          runs.push({ component: component.id, ...run });
          deps.metrics.runStarted(body.strategy, 'api');
          request.log.info({ workflowId: run.workflowId, by: principal.name, strategy: body.strategy }, 'run started');
        } catch (err) {
          // Another caller won a race after the check: say which runs this request did start.
          if (err instanceof AlreadyRunningError && runs.length > 0) {
            throw new HttpError(409, `${err.message}; this request already started ${runs.map((r) => r.workflowId).join(', ')}`, {
              workflowId: err.workflowId,
              runId: err.runId,
            });
          }
          throw err;
        }
      }
      const first = runs[0]!;
      return reply.code(202).send({ workflowId: first.workflowId, runId: first.runId, url: first.url, runs });
    },
  );

  app.get(
    '/runs',
    {
      config: { auth: 'viewer' },
      schema: {
        tags: ['runs'],
        summary: "list mend's runs, newest first, filtered by search attributes",
        security,
        querystring: RunListQuerySchema,
        response: { 200: RunListSchema, ...errorResponses(400, 401, 403, 503) },
      },
    },
    async (request) => listRuns(mend, request.query),
  );

  app.get(
    '/runs/:id',
    {
      config: { auth: 'viewer' },
      schema: {
        tags: ['runs'],
        summary: 'a run: status, progress (phase, steps, approval) and result',
        description:
          '`id` is a workflow id, URL-encoded (`mend%2Frecover%2Fapi`), or a component id meaning its recovery run. ' +
          `A run that does not answer its progress query within ${READ_QUERY_WAIT_MS / 1000} s (a busy worker) is described without \`progress\`, and \`unanswered\` says so (a partial answer).`,
        security,
        params: RunIdParamsSchema,
        response: { 200: RunDetailSchema.describe('the run: its status, progress and, once closed, its result'), ...errorResponses(400, 401, 403, 404, 503) },
      },
    },
    // The progress query waits as long as the fleet reads' do: a run whose worker is slow to answer (a
    // closed run is replayed first) makes a partial answer, not a 503 at the request's deadline.
    async (request) => mend.describe(workflowIdOf(request.params.id), undefined, { progressWaitMs: READ_QUERY_WAIT_MS }),
  );

  for (const action of ['pause', 'resume', 'cancel'] as const) {
    app.post(
      `/runs/:id/${action}`,
      {
        config: { auth: 'operator' },
        schema: {
          tags: ['runs'],
          summary: { pause: 'hold the run before its next side effect', resume: 'let a paused run go on', cancel: 'cancel the run (a saga compensates first)' }[
            action
          ],
          security,
          params: RunIdParamsSchema,
          body: ControlBodySchema,
          response: { 202: ControlResponseSchema, ...errorResponses(400, 401, 403, 404, 409, 413, 415, 503) },
        },
      },
      async (request, reply) => {
        const principal = principalOf(request);
        const workflowId = workflowIdOf(request.params.id);
        await requireRunScope(principal, mend, workflowId);
        if (action === 'pause') await mend.pause(workflowId, principal.name, request.body.reason);
        else if (action === 'resume') await mend.resume(workflowId, principal.name);
        else await mend.cancel(workflowId);
        request.log.info({ workflowId, by: principal.name, action }, `run ${action}`);
        return reply.code(202).send({ workflowId, action, by: principal.name });
      },
    );
  }

  app.post(
    '/runs/:id/approve',
    {
      config: { auth: 'admin' },
      schema: {
        tags: ['runs'],
        summary: 'approve (or with `approve: false` reject) a run waiting for an approval',
        description: "Needs admin. The decision is recorded with the token's name. When an escalation rung of the run is the one waiting, it is decided there.",
        security,
        params: RunIdParamsSchema,
        body: ApproveBodySchema,
        response: { 200: ApproveResponseSchema, ...errorResponses(400, 401, 403, 404, 409, 413, 415, 503) },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      const workflowId = workflowIdOf(request.params.id);
      await requireRunScope(principal, mend, workflowId);
      const decision = request.body;
      const status = await mend.approve(workflowId, { approve: decision.approve, by: principal.name, reason: decision.reason });
      request.log.info({ workflowId: status.workflowId, by: principal.name, state: status.state }, 'run approval');
      return status;
    },
  );
};
