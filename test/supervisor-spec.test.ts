/** What each supervisor is told about the fleet: the fleet cap is left out where it can never bind. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { supervisorSpec } from '../client/schedules';
import { parseConfig } from '../core/config';

const opts = { baseDir: '/srv/app', stateDir: '/srv/app/.mend' };

function fleet(count: number, cap: number, strategyOfFirst = 'immediate') {
  const components = Array.from({ length: count }, (_, i) =>
    [
      `  - id: svc${i}`,
      '    adapter: { type: process, command: [node, server.js] }',
      `    probe: { type: http, url: "http://127.0.0.1:${4000 + i}/healthz" }`,
      ...(i === 0 ? [`    policy: { strategy: ${strategyOfFirst} }`] : []),
    ].join('\n'),
  );
  return parseConfig(`version: 1\nsupervision: { maxConcurrentRecoveries: ${cap} }\ncomponents:\n${components.join('\n')}\n`, 'mend.config.yaml', opts);
}

test('a fleet no larger than its cap asks no limiter for permits', () => {
  const config = fleet(3, 3);
  for (const c of config.components) assert.equal(supervisorSpec(c, config).maxConcurrentRecoveries, undefined);
});

test('a fleet larger than its cap has every supervisor take a permit', () => {
  const config = fleet(4, 3);
  for (const c of config.components) assert.equal(supervisorSpec(c, config).maxConcurrentRecoveries, 3);
});

test('a destructive recovery goes through the limiter even in a small fleet (its per-minute ration)', () => {
  const config = fleet(2, 5, 'state-recovery');
  assert.equal(supervisorSpec(config.components[0]!, config).maxConcurrentRecoveries, 5);
  assert.equal(supervisorSpec(config.components[1]!, config).maxConcurrentRecoveries, undefined);
});

test('immediate and progressive restarts are cheap whatever the adapter; dependency-aware and destructive ones keep the strict cap', () => {
  const component = (id: string, adapter: string, strategy: string) =>
    [`  - id: ${id}`, `    adapter: ${adapter}`, `    probe: { type: http, url: "http://127.0.0.1:4000/${id}" }`, `    policy: { strategy: ${strategy} }`].join(
      '\n',
    );
  const components = [
    component('proc', '{ type: process, command: [node, server.js] }', 'immediate'),
    component('web', '{ type: http, restart: { url: "http://127.0.0.1:4001/restart" } }', 'immediate'),
    component('cmd', '{ type: command, start: [systemctl, start, x], stop: [systemctl, stop, x] }', 'progressive'),
    component('deps', '{ type: http, restart: { url: "http://127.0.0.1:4002/restart" } }', 'dependency-aware'),
    component('state', '{ type: process, command: [node, server.js] }', 'state-recovery'),
  ];
  const config = parseConfig(`version: 1\nsupervision: { maxConcurrentRecoveries: 2 }\ncomponents:\n${components.join('\n')}\n`, 'mend.config.yaml', opts);
  const cheap = Object.fromEntries(config.components.map((c) => [c.id, supervisorSpec(c, config).adaptive !== undefined]));
  assert.deepEqual(cheap, { proc: true, web: true, cmd: true, deps: false, state: false });
});
