// Lint: typescript-eslint's recommended rules, floating promises as errors, and a guard on the
// workflow sandbox (no Node builtins, no I/O packages, no zod, no activity/worker/client code).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const nodeBuiltins = ['fs', 'path', 'os', 'child_process', 'net', 'http', 'https', 'crypto', 'process', 'util', 'stream', 'events', 'readline', 'worker_threads', 'dns', 'timers', 'url'];

export default tseslint.config(
  { ignores: ['node_modules/', '.mend/', 'dist/', 'bench/results/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': ['error', { allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['test', 'describe', 'it', 'suite'] }] }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
  {
    files: ['workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [
            ...nodeBuiltins.flatMap((m) => [m, `node:${m}`]).map((name) => ({ name, message: 'workflow code runs in a deterministic sandbox: no Node builtins' })),
            { name: 'zod', message: 'workflows use the inferred types from core/, never zod (sdk-typescript#2227)' },
          ],
          patterns: [
            { group: ['@temporalio/activity', '@temporalio/client', '@temporalio/worker', '@temporalio/testing'], message: 'not allowed in the workflow sandbox' },
            { group: ['fastify', 'fastify-*', '@fastify/*', 'pino', 'pino-*', 'yaml'], message: 'no I/O packages in workflow code' },
            { group: ['**/activities/*', '**/activities', '**/client/*', '**/client', '**/api/*', '**/workers/*', '**/scripts/*'], allowTypeImports: true, message: 'workflows import activities as types only, and nothing with I/O' },
            { group: ['**/core/config', '**/core/schemas', '**/core/settings'], allowTypeImports: true, message: 'schemas (zod) stay out of workflows: import their types only' },
          ],
        },
      ],
      'no-console': 'error',
    },
  },
  {
    files: ['**/*.js', '**/*.mjs', 'bin/*'],
    languageOptions: { sourceType: 'commonjs', globals: { require: 'readonly', process: 'readonly', console: 'readonly', setTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', setImmediate: 'readonly', URL: 'readonly', fetch: 'readonly', AbortSignal: 'readonly', __dirname: 'readonly' } },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  { files: ['eslint.config.mjs', 'scripts/test-timing-reporter.mjs'], languageOptions: { sourceType: 'module' } },
);
