import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { processAdapter } from '../domain/adapters/process';
import { configJsonSchema } from '../cli/schema';
import { parseConfig, selectComponents, withHomeDefaults } from '../core/config';
import { DEFAULT_HOST } from '../core/constants';
import { adapterHost } from '../core/hosts';
import { backoffDelay } from '../core/backoff';
import { formatDuration, parseDuration } from '../core/duration';
import { ValidationError } from '../core/errors';
import { findCycle, topologicalLevels } from '../core/graph';
import { STRATEGIES } from '../core/schemas';
import { readSettings } from '../core/settings';

const opts = { baseDir: '/srv/app', stateDir: '/srv/app/.mend' };
const component = (id: string, extra = '') => `
  - id: ${id}
    adapter: { type: process, command: [node, server.js] }
    probe: { type: http, url: "http://127.0.0.1:1/healthz" }${extra}`;

function problemsOf(text: string): string[] {
  try {
    parseConfig(text, 'mend.config.yaml', opts);
  } catch (err) {
    assert.ok(err instanceof ValidationError, `expected a ValidationError, got ${String(err)}`);
    return err.problems;
  }
  assert.fail('config was accepted');
}

describe('durations', () => {
  test('parse the units operators write', () => {
    assert.equal(parseDuration('500ms'), 500);
    assert.equal(parseDuration('30s'), 30_000);
    assert.equal(parseDuration('1.5s'), 1_500);
    assert.equal(parseDuration('5m'), 300_000);
    assert.equal(parseDuration('1h'), 3_600_000);
  });
  test('reject what is not a duration with the expected form', () => {
    for (const bad of ['5', '5 minutes', '-1s', 's', '']) assert.throws(() => parseDuration(bad), /expected a number followed by ms, s, m, h or d/);
  });
  test('format back to a short readable form', () => {
    assert.equal(formatDuration(250), '250ms');
    assert.equal(formatDuration(1_500), '1.5s');
    assert.equal(formatDuration(300_000), '5m');
  });
});

describe('config', () => {
  test('a valid config gets defaults and absolute paths', () => {
    const config = parseConfig(`components:${component('api')}`, 'mend.config.yaml', opts);
    const api = config.components[0]!;
    const adapter = processAdapter(api);
    assert.equal(adapter.cwd, '/srv/app');
    assert.equal(adapter.pidFile, '/srv/app/.mend/run/api.pid');
    assert.equal(adapter.logFile, '/srv/app/.mend/log/api.log');
    assert.equal(adapter.stopTimeout, 5_000);
    assert.equal(api.policy.strategy, 'immediate');
    assert.equal(api.policy.timeout, 30_000);
    assert.equal(api.probe.type === 'http' && api.probe.timeout, 1_000);
  });

  test('errors name the path inside the file and what was expected', () => {
    const problems = problemsOf(
      `components:${component('api')}${component('web', '\n    policy: { timeout: soon }')}\n  - id: db\n    adapter: { type: process, command: [] }\n    probe: { type: http, url: "ftp://x" }`,
    );
    assert.ok(problems.includes('components[1].policy.timeout: expected a duration such as "500ms", "30s" or "5m"'), problems.join('\n'));
    assert.ok(
      problems.some((p) => p.startsWith('components[2].adapter.command: expected a non-empty argv list')),
      problems.join('\n'),
    );
    assert.ok(problems.includes('components[2].probe.url: expected an http(s) URL'), problems.join('\n'));
  });

  test('unknown fields and unknown strategies are rejected, not ignored', () => {
    assert.ok(problemsOf(`components:${component('api', '\n    restartt: always')}`).some((p) => p.startsWith('components[0]:') && p.includes('restartt')));
    assert.deepEqual(problemsOf(`components:${component('api', '\n    policy: { strategy: pray }')}`), [
      `components[0].policy.strategy: unknown strategy "pray" (available: ${STRATEGIES.join(', ')})`,
    ]);
  });

  test('an unknown dependency and a dependency cycle are named at load', () => {
    assert.deepEqual(problemsOf(`components:${component('api', '\n    dependsOn: [ghost]')}`), ['components[0].dependsOn[0]: unknown component "ghost"']);
    const cyclic = problemsOf(
      `components:${component('a', '\n    dependsOn: [b]')}${component('b', '\n    dependsOn: [c]')}${component('c', '\n    dependsOn: [a]')}`,
    );
    assert.deepEqual(cyclic, ['dependsOn: dependency cycle a -> b -> c -> a']);
  });

  test('duplicate ids and invalid YAML are named', () => {
    assert.ok(problemsOf(`components:${component('api')}${component('api')}`).includes('components[1].id: duplicate component id "api" (also components[0])'));
    assert.match(problemsOf('components: [unclosed')[0]!, /^not valid YAML: /);
  });

  test('command and http adapters and the command probe parse, with paths resolved', () => {
    const config = parseConfig(
      `components:
  - id: nginx
    adapter: { type: command, start: [systemctl, start, nginx], stop: [systemctl, stop, nginx], status: [systemctl, is-active, nginx], cwd: ops }
    probe: { type: command, command: [curl, -fsS, "http://127.0.0.1/"], timeout: 2s }
  - id: search
    adapter: { type: http, restart: { url: "http://127.0.0.1:9200/_admin/restart" } }
    probe: { type: tcp, port: 9200 }`,
      'mend.config.yaml',
      opts,
    );
    const [nginx, search] = config.components;
    assert.equal(nginx!.adapter.type === 'command' && nginx!.adapter.cwd, '/srv/app/ops');
    assert.equal(nginx!.adapter.type === 'command' && nginx!.adapter.timeout, 30_000);
    assert.equal(nginx!.probe.type === 'command' && nginx!.probe.cwd, '/srv/app');
    assert.equal(search!.adapter.type === 'http' && search!.adapter.restart.method, 'POST');
    assert.ok(
      problemsOf(`components:\n  - id: x\n    adapter: { type: http, restart: { url: "file:///etc/passwd" } }\n    probe: { type: process }`).includes(
        'components[0].adapter.restart.url: expected an http(s) URL',
      ),
    );
  });

  test('state defaults: checkpoints and state moved aside under MEND_HOME, cleanup in the state folders', () => {
    const config = parseConfig(`components:${component('db', '\n    state: { paths: [data/db.json, logs/] }')}`, 'mend.config.yaml', opts);
    const { state, policy } = config.components[0]!;
    assert.deepEqual(state.paths, ['/srv/app/data/db.json', '/srv/app/logs']);
    assert.equal(state.checkpointDir, '/srv/app/.mend/checkpoints/db');
    assert.equal(state.asideDir, '/srv/app/.mend/aside/db');
    assert.deepEqual(state.cleanup.dirs, ['/srv/app/data', '/srv/app']);
    assert.deepEqual([state.cleanup.temp, state.cleanup.locks, state.cleanup.staleAfter], [['*.tmp'], ['*.lock'], 3_600_000]);
    assert.deepEqual([state.keep, state.maxAge], [10, 7 * 86_400_000]);
    assert.deepEqual([policy.escalation, policy.validateAfterRecovery, policy.preApproved, policy.approvalTimeout], [[], true, false, 900_000]);
  });

  test('an escalation chain names only known strategies', () => {
    assert.ok(
      problemsOf(`components:${component('api', '\n    policy: { escalation: [immediate, reboot] }')}`).some((p) =>
        p.startsWith('components[0].policy.escalation[1]: unknown strategy "reboot"'),
      ),
    );
    assert.deepEqual(problemsOf(`components:${component('api', '\n    policy: { escalation: [immediate, progressive, immediate] }')}`), [
      'components[0].policy.escalation: each strategy may appear once in an escalation chain',
    ]);
  });

  test('sagas: unknown components and duplicate names are named with their path', () => {
    const saga = (name: string, target: string) =>
      `\n  - name: ${name}\n    steps:\n      - name: one\n        action: { type: component, component: ${target}, op: restart }\n        compensate: { type: command, command: ["true"] }`;
    assert.deepEqual(problemsOf(`components:${component('api')}\nsagas:${saga('fix', 'ghost')}${saga('fix', 'api')}`), [
      'sagas[0].steps[0].action.component: unknown component "ghost"',
      'sagas[1].name: duplicate saga name "fix"',
    ]);
    assert.ok(problemsOf(`components:${component('api')}\nsagas:\n  - name: empty\n    steps: []`).includes('sagas[0].steps: a saga needs at least one step'));
    const config = parseConfig(`components:${component('api')}\nsagas:${saga('fix', 'api')}`, 'mend.config.yaml', opts);
    assert.equal(config.sagas[0]!.steps[0]!.compensate?.type === 'command' && config.sagas[0]!.steps[0]!.compensate.cwd, '/srv/app');
    assert.equal(config.sagas[0]!.compensationAttempts, 3);
  });

  test('selecting an unknown component names it and the known ones', () => {
    const config = parseConfig(`components:${component('api')}${component('web')}`, 'mend.config.yaml', opts);
    assert.throws(() => selectComponents(config, ['api', 'ghost']), /unknown component "ghost" \(known: api, web\)/);
    assert.deepEqual(
      selectComponents(config, ['web']).map((c) => c.id),
      ['web'],
    );
  });
});

describe('hosts', () => {
  const spool = (extra = '') => `\nspools:\n  - name: orders\n    dir: spool\n    sink: { url: "http://127.0.0.1:1" }${extra}`;
  const saga = (extra = '') => `\nsagas:\n  - name: deploy\n    steps:\n      - name: migrate\n        action: { type: command, command: ["true"]${extra} }`;

  test('without hosts: nothing names a host, and paths default under the central MEND_HOME as before', () => {
    const config = parseConfig(`components:${component('api')}${spool()}${saga()}`, 'mend.config.yaml', opts);
    assert.deepEqual(config.hosts, []);
    assert.equal(config.components[0]!.host, undefined);
    assert.equal(config.spools[0]!.host, undefined);
    assert.equal(processAdapter(config.components[0]!).pidFile, '/srv/app/.mend/run/api.pid');
  });

  test('with hosts: everything carries its host, the default host when it names none', () => {
    const text = `hosts:\n  - { id: a, labels: { zone: eu-1 } }\n  - id: b\n    description: the api box\ncomponents:${component('api', '\n    host: b')}${component('web')}${spool('\n    host: a')}${saga(', host: a')}\ndrills:\n  - { name: crash-api, component: api }`;
    const config = parseConfig(text, 'mend.config.yaml', opts);
    assert.deepEqual(config.hosts, [
      { id: 'a', labels: { zone: 'eu-1' } },
      { id: 'b', description: 'the api box', labels: {} },
    ]);
    assert.deepEqual(
      config.components.map((c) => c.host),
      ['b', DEFAULT_HOST],
    );
    assert.equal(config.spools[0]!.host, 'a');
    assert.equal(config.sagas[0]!.steps[0]!.action.type === 'command' && config.sagas[0]!.steps[0]!.action.host, 'a');
    assert.equal(config.drills[0]!.host, 'b', 'a drill runs on its component host by default');
    // On another host the pid file and state folders are left for that host's agent to place under its own MEND_HOME.
    const api = config.components[0]!;
    assert.equal(api.adapter.type === 'process' && api.adapter.pidFile, undefined);
    assert.equal(api.state.checkpointDir, undefined);
    assert.equal(processAdapter(withHomeDefaults(api, '/var/lib/mend-b')).pidFile, '/var/lib/mend-b/run/api.pid');
    assert.equal(processAdapter(config.components[1]!).pidFile, '/srv/app/.mend/run/web.pid');
  });

  test('an unknown host id is named with its path, wherever it is used', () => {
    const text = `hosts: [{ id: a }]\ncomponents:${component('api', '\n    host: ghost')}${spool('\n    host: b')}${saga(', host: c')}\ndrills:\n  - { name: crash-api, component: api, host: d }`;
    assert.deepEqual(problemsOf(text), [
      `components[0].host: unknown host "ghost" (known: a, ${DEFAULT_HOST})`,
      `spools[0].host: unknown host "b" (known: a, ${DEFAULT_HOST})`,
      `sagas[0].steps[0].action.host: unknown host "c" (known: a, ${DEFAULT_HOST})`,
      `drills[0].host: unknown host "d" (known: a, ${DEFAULT_HOST})`,
    ]);
    // Without a hosts list only the default host is known.
    assert.deepEqual(problemsOf(`components:${component('api', '\n    host: a')}`), [`components[0].host: unknown host "a" (known: ${DEFAULT_HOST})`]);
  });

  test('duplicate and malformed host ids are rejected', () => {
    assert.deepEqual(problemsOf('hosts: [{ id: a }, { id: a }]'), ['hosts: each host id may appear once']);
    assert.ok(problemsOf('hosts: [{ id: "A b" }]').some((p) => p.startsWith('hosts[0].id: expected a host id')));
  });

  test('a crash drill cannot run on another host than its component', () => {
    const text = `hosts: [{ id: a }, { id: b }]\ncomponents:${component('api', '\n    host: a')}\ndrills:\n  - { name: crash-api, component: api, host: b }`;
    assert.deepEqual(problemsOf(text), ["drills[0].host: a crash drill runs on its component's host (a), not b"]);
  });

  test('adapter actions of an http adapter on an absolute URL belong to no host; loopback ones to the component host', () => {
    const http = (url: string) => `\n  - id: edge\n    host: a\n    adapter: { type: http, restart: { url: "${url}" } }\n    probe: { type: tcp, port: 80 }`;
    const config = (url: string) => parseConfig(`hosts: [{ id: a }]\ncomponents:${http(url)}`, 'mend.config.yaml', opts).components[0]!;
    assert.equal(adapterHost(config('https://admin.example.com/restart')), undefined);
    assert.equal(adapterHost(config('http://127.0.0.1:9000/restart')), 'a');
    assert.equal(adapterHost(config('http://localhost/restart')), 'a');
    assert.equal(adapterHost(parseConfig(`hosts: [{ id: a }]\ncomponents:${component('api', '\n    host: a')}`, 'mend.config.yaml', opts).components[0]!), 'a');
  });

  test('the JSON schema of the config knows hosts and host fields', () => {
    type Obj = { properties: Record<string, Obj & { items: Obj; type?: string }> };
    const props = (configJsonSchema() as unknown as Obj).properties;
    assert.deepEqual(Object.keys(props.hosts!.items.properties).sort(), ['cores', 'description', 'id', 'labels']);
    for (const list of ['components', 'spools', 'drills'] as const) assert.equal(props[list]!.items.properties.host?.type, 'string', `${list} have a host`);
  });
});

describe('dependency graph', () => {
  test('levels put every component after what it depends on', () => {
    const nodes = [
      { id: 'web', dependsOn: ['api'] },
      { id: 'api', dependsOn: ['store', 'cache'] },
      { id: 'store', dependsOn: [] },
      { id: 'cache', dependsOn: [] },
    ];
    assert.deepEqual(topologicalLevels(nodes), [['cache', 'store'], ['api'], ['web']]);
    assert.equal(findCycle(nodes), undefined);
  });
});

describe('settings', () => {
  test('defaults apply and bad values name the variable', () => {
    assert.equal(readSettings({}).MEND_API_PORT, 3000);
    assert.equal(readSettings({ MEND_API_PORT: '8080' }).MEND_API_PORT, 8080);
    assert.throws(() => readSettings({ MEND_API_PORT: 'eighty' }), /environment: MEND_API_PORT: /);
  });
});

describe('backoff', () => {
  const policy = { initialDelay: 1_000, maxDelay: 10_000, exponentialBase: 2, jitter: 0 };
  test('grows by the base from the initial delay and stops at the cap', () => {
    assert.deepEqual(
      [1, 2, 3, 4, 5, 6].map((a) => backoffDelay(a, policy, 0.5)),
      [1_000, 2_000, 4_000, 8_000, 10_000, 10_000],
    );
  });
  test('jitter stays within ±jitter of the delay and never passes the cap', () => {
    const jittery = { ...policy, jitter: 0.2 };
    for (const random of [0, 0.25, 0.5, 0.75, 0.999]) {
      const d = backoffDelay(2, jittery, random);
      assert.ok(d >= 1_600 && d <= 2_400, `attempt 2 with random ${random}: ${d}`);
      assert.ok(backoffDelay(10, jittery, random) <= 10_000);
    }
  });
});
