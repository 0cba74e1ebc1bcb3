/**
 * The `mend` command's offline subcommands: a valid config and bad usage as a user would run them
 * (bin/mend in a child process, its real exit code); the other cases through the CLI's own
 * main(argv) in this process (runCli), the same output and exit code without a node + tsx start each.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { RUNBOOK_NAME_PATTERN, STRATEGIES } from '../core/schemas';
import { ROOT, runCli, runMendBinary, tempDir } from './helpers';

describe('mend CLI (offline commands)', () => {
  test('config validate accepts the demo config and names its components', async () => {
    const res = await runMendBinary(['config', 'validate', path.join(ROOT, 'mend.config.yaml')], {});
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /ok \(5 components: store, api, web, sink, producer\)/);
  });

  test('config validate refuses a bad file with one line naming the file and the path, exit 2', async () => {
    const file = path.join(tempDir('cli'), 'bad.yaml');
    writeFileSync(
      file,
      'components:\n  - id: api\n    adapter: { type: process, command: [node] }\n    probe: { type: http, url: "http://x/healthz", timeout: soon }\n',
    );
    const res = await runCli(['config', 'validate', file], {});
    assert.equal(res.code, 2);
    assert.equal(res.stderr.trim(), `mend: ${file}: components[0].probe.timeout: expected a duration such as "500ms", "30s" or "5m"`);
  });

  test('a missing config file is one clear line, exit 2', async () => {
    const res = await runCli(['config', 'validate', '/nonexistent/mend.yaml'], {});
    assert.equal(res.code, 2);
    assert.equal(res.stderr.trim(), 'mend: /nonexistent/mend.yaml: file not found');
  });

  test('schema prints a JSON Schema editors can use: durations as patterns, built-in strategies as an enum beside the custom-runbook name pattern', async () => {
    const res = await runCli(['schema'], {});
    assert.equal(res.code, 0, res.stderr);
    const schema = JSON.parse(res.stdout);
    const component = schema.properties.components.items;
    assert.deepEqual([...component.required].sort(), ['adapter', 'id', 'probe']);
    const strategy = component.properties.policy.properties.strategy as { anyOf: Array<{ enum?: string[]; pattern?: string }> };
    assert.deepEqual(strategy.anyOf.find((a) => a.enum)?.enum, [...STRATEGIES]);
    assert.equal(strategy.anyOf.find((a) => a.pattern)?.pattern, RUNBOOK_NAME_PATTERN.source);
    assert.equal(component.properties.policy.properties.timeout.pattern, '^(\\d+(?:\\.\\d+)?)(ms|s|m|h|d)$');
    assert.equal(component.properties.policy.properties.timeout.default, '30s');
  });

  test('an unknown command or option is bad usage: exit 2', async () => {
    assert.equal((await runMendBinary(['frobnicate'], {})).code, 2);
    assert.equal((await runMendBinary(['run', 'immediate', 'api', '--bogus'], {})).code, 2);
  });
});
