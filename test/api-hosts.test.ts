/**
 * GET /v1/hosts, GET /v1/hosts/:id and `mend hosts` against one real agent on the shared dev
 * server: a host whose agent polls is up with its identity, version and last poll; a host without
 * one is down; what an agent is comes from Temporal's own view of the pollers on its queue.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { MendClient } from '../client';
import { loadConfigFile } from '../client/config';
import { HostListSchema, HostViewSchema } from '../core/api';
import { DEFAULT_HOST, hostTaskQueue } from '../core/constants';
import { hostStatuses, POLLER_FRESH_MS } from '../core/host-status';
import type { Config } from '../core/schemas';
import { bearer, makeTokens, testApp, type TestTokens } from './api-fixtures';
import { runCli, sharedServer, spawnTs, tempDir, uniqueQueue, GiveUp, waitFor, writeDemoConfig, type Spawned } from './helpers';

describe('hosts through the API and the CLI, with one real agent', () => {
  const dir = tempDir('api-hosts');
  const queue = uniqueQueue('api-hosts');
  let config: Config;
  let configFile: string;
  let mend: MendClient;
  let app: FastifyInstance;
  let tokens: TestTokens;
  let agent: Spawned;

  before(async () => {
    ({ file: configFile } = await writeDemoConfig(
      dir,
      [{ id: 'edge-api', host: 'edge' }, { id: 'edge-web', host: 'edge' }, { id: 'central-db' }],
      'hosts:\n  - { id: edge, description: the edge box, labels: { zone: eu-1 } }\n  - { id: idle }\n',
    ));
    config = loadConfigFile(configFile, { stateDir: `${dir}/.mend` });
    agent = spawnTs(
      'workers/agent.ts',
      { ...process.env, MEND_TEMPORAL_ADDRESS: sharedServer().address, MEND_TASK_QUEUE: queue, MEND_HOME: `${dir}/edge-home` },
      { args: ['--host', 'edge'] },
    );
    await waitFor(
      'agent to poll',
      // Generous, as startWorker's: on a loaded machine an agent can take long to start polling.
      120_000,
      () => agent.output.some((l) => l.includes('agent polling')) || (agent.proc.exitCode !== null && Promise.reject(new GiveUp(agent.output.join('\n')))),
    );
    mend = await MendClient.connect({ address: sharedServer().address, taskQueue: queue });
    let table;
    ({ tokens, table } = makeTokens('edge-api'));
    app = await testApp(mend, config, table);
  });

  after(async () => {
    await app?.close();
    await agent?.stop();
    await mend?.close();
  });

  test('GET /v1/hosts: the host with a polling agent is up, with who it is; the others are down', async () => {
    const identity = / as (mend-agent\/.+)$/.exec(agent.output.find((l) => l.includes('agent polling'))!)![1]!;
    // Temporal lists a poller once its first long poll has reached the server.
    const hosts = await waitFor('edge up', 20_000, async () => {
      const res = await app.inject({ method: 'GET', url: '/v1/hosts', headers: bearer(tokens.viewer) });
      assert.equal(res.statusCode, 200, res.body);
      const body = HostListSchema.parse(res.json());
      return body.hosts.find((h) => h.id === 'edge')?.agent === 'up' && body.hosts;
    });
    assert.deepEqual(
      hosts.map((h) => h.id),
      ['edge', 'idle', DEFAULT_HOST],
    );
    const edge = hosts[0]!;
    assert.equal(edge.taskQueue, hostTaskQueue(queue, 'edge'));
    assert.equal(edge.components, 2);
    assert.deepEqual(edge.labels, { zone: 'eu-1' });
    assert.equal(edge.description, 'the edge box');
    assert.equal(edge.version, '0.1.0');
    assert.ok(Date.now() - Date.parse(edge.lastSeen!) < 120_000, `last seen ${edge.lastSeen}`);
    const seen = edge.agents.find((a) => a.identity === identity);
    assert.ok(seen, `the agent's identity is listed: ${JSON.stringify(edge.agents)}`);
    assert.equal(seen.role, 'agent');
    assert.equal(seen.pid, agent.proc.pid);
    assert.equal(seen.up, true);

    const idle = hosts[1]!;
    assert.equal(idle.agent, 'down');
    assert.equal(idle.lastSeen, undefined);
    assert.equal(idle.components, 0);
    // No central worker runs in this test: nothing serves the default host's one component.
    const local = hosts[2]!;
    assert.deepEqual([local.default, local.agent, local.components], [true, 'down', 1]);
  });

  test('GET /v1/hosts/:id gives one host; an unknown one is a 404 naming the known, a malformed one a 400, no token a 401', async () => {
    const one = await app.inject({ method: 'GET', url: '/v1/hosts/edge', headers: bearer(tokens.viewer) });
    assert.equal(one.statusCode, 200, one.body);
    assert.equal(HostViewSchema.parse(one.json()).id, 'edge');

    const unknown = await app.inject({ method: 'GET', url: '/v1/hosts/ghost', headers: bearer(tokens.viewer) });
    assert.equal(unknown.statusCode, 404);
    assert.match(unknown.body, new RegExp(`unknown host ghost \\(known: edge, idle, ${DEFAULT_HOST}\\)`));

    const bad = await app.inject({ method: 'GET', url: '/v1/hosts/Not%20A%20Host', headers: bearer(tokens.viewer) });
    assert.equal(bad.statusCode, 400);
    assert.match(bad.body, /id/);

    assert.equal((await app.inject({ method: 'GET', url: '/v1/hosts' })).statusCode, 401);
  });

  test('mend hosts lists the same, as a table and as JSON', async () => {
    const env = { MEND_TEMPORAL_ADDRESS: sharedServer().address, MEND_TASK_QUEUE: queue, MEND_CONFIG: configFile, MEND_HOME: `${dir}/.mend` };
    const json = await runCli(['hosts', '--json'], env);
    assert.equal(json.code, 0, json.stderr);
    const hosts = HostListSchema.shape.hosts.parse(JSON.parse(json.stdout));
    assert.deepEqual(
      hosts.map((h) => [h.id, h.agent]),
      [
        ['edge', 'up'],
        ['idle', 'down'],
        [DEFAULT_HOST, 'down'],
      ],
    );

    const text = await runCli(['hosts'], env);
    assert.equal(text.code, 0, text.stderr);
    const lines = text.stdout.trim().split('\n');
    assert.match(lines[0]!, /^HOST\s+AGENT\s+LAST SEEN\s+VERSION\s+COMPONENTS\s+LABELS$/);
    assert.match(lines[1]!, /^edge\s+up\s+\d+(ms|s|m) ago\s+0\.1\.0\s+2\s+zone=eu-1$/);
    assert.match(lines[2]!, /^idle\s+down\s+never\s+-\s+0\s+-$/);
    assert.match(text.stdout, /no agent polling for idle, local/);
  });

  test('the components list names each component host: GET /v1/components, and a HOST column in mend components', async () => {
    const res = await app.inject({ method: 'GET', url: '/v1/components', headers: bearer(tokens.viewer) });
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(
      (res.json() as { components: Array<{ id: string; host: string }> }).components.map((c) => [c.id, c.host]),
      [
        ['edge-api', 'edge'],
        ['edge-web', 'edge'],
        ['central-db', DEFAULT_HOST],
      ],
    );

    const env = { MEND_TEMPORAL_ADDRESS: sharedServer().address, MEND_TASK_QUEUE: queue, MEND_CONFIG: configFile, MEND_HOME: `${dir}/.mend` };
    const text = await runCli(['components'], env);
    assert.equal(text.code, 0, text.stderr);
    const lines = text.stdout.trim().split('\n');
    assert.match(lines[0]!, /^COMPONENT\s+HOST\s+ADAPTER\s+PROBE\s+DEPENDS ON\s+STRATEGY\s+HEALTH\s+BREAKER\s+RECOVERING$/);
    assert.match(lines[1]!, /^edge-api\s+edge\s+process\s+http\s/);
    assert.match(lines[3]!, new RegExp(`^central-db\\s+${DEFAULT_HOST}\\s+process`));
  });

  test('a poller Temporal has not heard from for longer than a long poll counts as down', () => {
    const now = Date.parse('2026-01-01T00:10:00Z');
    const at = (ms: number) => new Date(now - ms).toISOString();
    const identity = 'mend-agent/edge@box-1 pid 42 v0.1.0 started 2026-01-01T00:00:00.000Z';
    const [fresh] = hostStatuses(
      config,
      () => [{ identity, lastAccessTime: at(5_000) }],
      (id) => id,
      now,
    );
    assert.deepEqual([fresh!.agent, fresh!.version, fresh!.agents[0]!.machine, fresh!.agents[0]!.pid], ['up', '0.1.0', 'box-1', 42]);
    const [stale] = hostStatuses(
      config,
      () => [{ identity, lastAccessTime: at(POLLER_FRESH_MS + 1_000) }],
      (id) => id,
      now,
    );
    assert.deepEqual([stale!.agent, stale!.version, stale!.lastSeen], ['down', undefined, at(POLLER_FRESH_MS + 1_000)]);
  });
});
