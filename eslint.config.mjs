// Lint: typescript-eslint's recommended rules, floating promises as errors, and a guard on the
// workflow sandbox (no Node builtins, no I/O packages, no zod, no activity/worker/client code), and
// the layers of DESIGN §8: domain/ is Temporal-free and stands on core/ and Node alone; cli/ and
// scripts/ reach the domain code directly, never through activities/.
import { builtinModules } from 'node:module';
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

// Every Node builtin this Node knows (subpaths such as fs/promises included), bare and `node:`-prefixed.
// Newer Nodes list their prefix-only modules (node:test, node:sqlite) already prefixed.
const nodeBuiltins = [...new Set(builtinModules.flatMap((m) => (m.startsWith('node:') ? [m] : [m, `node:${m}`])))];

/** Folders above domain/ in DESIGN §8: domain code never imports from them, not even types. */
const upperLayers = ['activities', 'workers', 'workflows', 'client', 'api', 'cli', 'scripts', 'test', 'bench', 'chaos', 'demo'].flatMap((dir) => [
  `**/${dir}`,
  `**/${dir}/*`,
]);

export default tseslint.config(
  { ignores: ['node_modules/', '.mend/', 'dist/', 'bench/results/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': [
        'error',
        { allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['test', 'describe', 'it', 'suite'] }] },
      ],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
  {
    files: ['workflows/**/*.ts', 'kit/**/*.ts', 'runbooks/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [
            ...nodeBuiltins.map((name) => ({ name, message: 'workflow code runs in a deterministic sandbox: no Node builtins' })),
            { name: 'zod', message: 'workflows use the inferred types from core/, never zod (sdk-typescript#2227)' },
          ],
          patterns: [
            {
              group: ['@temporalio/activity', '@temporalio/client', '@temporalio/worker', '@temporalio/testing'],
              message: 'not allowed in the workflow sandbox',
            },
            { group: ['fastify', 'fastify-*', '@fastify/*', 'pino', 'pino-*', 'yaml'], message: 'no I/O packages in workflow code' },
            {
              group: [
                '**/activities/*',
                '**/activities',
                '**/domain/*',
                '../domain',
                '../../domain',
                '**/client/*',
                '**/client',
                '**/api/*',
                '**/workers/*',
                '**/scripts/*',
              ],
              allowTypeImports: true,
              message: 'workflows import activities as types only, and nothing with I/O',
            },
            {
              group: ['**/core/config', '**/core/schemas', '**/core/settings', '**/core/api', '**/core/api/*'],
              allowTypeImports: true,
              message: 'schemas (zod) stay out of workflows: import their types only',
            },
          ],
        },
      ],
      'no-console': 'error',
    },
  },
  {
    files: ['domain/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            // Pure helper libraries with no I/O are allowed by name; Temporal, zod and the rest are not.
            {
              regex: '^(?!node:|\\.|picomatch$)',
              message: 'domain code imports only core/, Node builtins (as node:*) and pure helpers (picomatch): no Temporal, no zod, no other packages',
            },
            { group: upperLayers, message: 'domain code imports only core/ and Node builtins: it sits under activities/, cli/ and scripts/' },
          ],
        },
      ],
    },
  },
  {
    files: ['cli/**/*.ts', 'scripts/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['**/activities', '**/activities/*'], message: 'cli/ and scripts/ use the domain code in domain/, never activities/ (DESIGN §8)' },
          ],
        },
      ],
    },
  },
  {
    files: ['**/*.js', '**/*.mjs', 'bin/*'],
    languageOptions: {
      sourceType: 'commonjs',
      globals: {
        require: 'readonly',
        process: 'readonly',
        console: 'readonly',
        setTimeout: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
        setImmediate: 'readonly',
        URL: 'readonly',
        fetch: 'readonly',
        AbortSignal: 'readonly',
        __dirname: 'readonly',
      },
    },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  { files: ['eslint.config.mjs', 'scripts/test-timing-reporter.mjs'], languageOptions: { sourceType: 'module' } },
  {
    // The fleet page's own module runs in the browser: ES module, browser globals only.
    files: ['api/ui/**/*.js'],
    languageOptions: {
      sourceType: 'module',
      globals: { document: 'readonly', sessionStorage: 'readonly', fetch: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', Date: 'readonly' },
    },
  },
);
