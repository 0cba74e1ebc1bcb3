/** The lint rule that guards the workflow sandbox, run on workflow code through ESLint's API with the project's config. */
import assert from 'node:assert/strict';
import { builtinModules } from 'node:module';
import path from 'node:path';
import { test } from 'node:test';
import { ESLint } from 'eslint';

const root = path.resolve(__dirname, '..');

/**
 * Only the sandbox rule, so without the project's type information (the rule reads imports alone):
 * building the TypeScript program for the typed rules cost most of this file's CPU time.
 */
const eslint = new ESLint({
  cwd: root,
  ruleFilter: ({ ruleId }) => ruleId === 'no-restricted-imports',
  overrideConfig: { languageOptions: { parserOptions: { projectService: false } } },
});

async function sandboxErrors(code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: path.join(root, 'workflows', 'index.ts') });
  return result!.messages.filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message);
}

test('workflow code may import no Node builtin, bare or node:-prefixed, subpaths included', async () => {
  const names = builtinModules.flatMap((m) => (m.startsWith('node:') ? [m] : [m, `node:${m}`]));
  assert.ok(names.includes('node:fs/promises') && names.includes('zlib') && names.includes('node:vm'));
  const code = names.map((name, i) => `import * as m${i} from '${name}';\nexport { m${i} };\n`).join('');
  const errors = await sandboxErrors(code);
  assert.equal(errors.length, names.length, `one error per import; unguarded: ${names.filter((n) => !errors.some((e) => e.includes(`'${n}'`))).join(', ')}`);
  assert.ok(
    errors.every((e) => e.includes('no Node builtins')),
    errors[0],
  );
});

test('the sandbox rule leaves the workflow SDK alone', async () => {
  assert.deepEqual(await sandboxErrors(`import { sleep } from '@temporalio/workflow';\nexport const nap = () => sleep(1);\n`), []);
});
