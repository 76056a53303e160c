// ESLint for every TypeScript file in the repository, with the type-aware rules that catch a
// promise nobody awaits and a switch that forgot a case. `npm run lint`; `npm test` runs it too.
import { builtinModules } from 'node:module';
import js from '@eslint/js';
import { defineConfig, globalIgnores } from 'eslint/config';
import tseslint from 'typescript-eslint';

/** Every Node built-in, bare and `node:`-prefixed: none of them exists in Temporal's workflow sandbox. */
const nodeBuiltins = [...new Set(builtinModules.map((m) => m.replace(/^node:/, '')))].flatMap((m) => [m, `node:${m}`]);

/** Packages Temporal's bundler refuses in workflow code (types from them are erased, so allowed). */
const nonWorkflowPackages = ['@temporalio/activity', '@temporalio/client', '@temporalio/worker', '@temporalio/testing', '@temporalio/core-bridge'];

/** Globals that are missing from the workflow sandbox or would make a replay take another path. */
const sandboxGlobals = [
  ['process', 'workflow code runs in a sandbox without process; pass values in the workflow input or read them in an activity.'],
  ['Buffer', 'Buffer does not exist in the workflow sandbox; use Uint8Array, TextEncoder/TextDecoder.'],
  ['setImmediate', 'setImmediate does not exist in the workflow sandbox; use sleep() or condition() from @temporalio/workflow.'],
  ['clearImmediate', 'clearImmediate does not exist in the workflow sandbox.'],
  ['setInterval', 'use a loop with sleep() from @temporalio/workflow: timers must be durable.'],
  ['require', 'workflow code is bundled: use an import (and no Node built-in).'],
  ['module', 'workflow code is bundled: use export.'],
  ['__dirname', 'workflow code has no file system.'],
  ['__filename', 'workflow code has no file system.'],
  ['global', 'use the workflow APIs, not globals.'],
  ['crypto', 'not deterministic on replay: use uuid4() from @temporalio/workflow, or do it in an activity.'],
  ['performance', 'not deterministic on replay: use Date.now() (workflow time) or workflowInfo().'],
].map(([name, message]) => ({ name, message }));

export default defineConfig(
  globalIgnores(['node_modules/', 'dist/', '.tools/', '.lethe/', 'coverage/', 'test-artifacts/', 'bench/out/', 'test/histories/']),
  {
    files: ['**/*.ts'],
    extends: [js.configs.recommended, tseslint.configs.recommended],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // A promise nobody awaits: an activity that never runs in order, an error nobody sees.
      // Fire-and-forget is spelled `void promise` next to a comment that says why.
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': ['error', { considerDefaultExhaustiveForUnions: true }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
    },
  },
  {
    // Deterministic code bundled into Temporal's sandbox: no I/O, no Node, nothing that differs on replay.
    files: ['workflows/**/*.ts', 'contract/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: [
            ...nodeBuiltins.map((name) => ({ name, message: 'Node built-ins do not exist in the workflow sandbox; do I/O in an activity.' })),
            ...nonWorkflowPackages.map((name) => ({ name, message: 'not allowed in workflow code (Temporal bundler); import types only.', allowTypeImports: true })),
          ],
          patterns: [{ group: nonWorkflowPackages.map((p) => `${p}/*`), message: 'not allowed in workflow code (Temporal bundler); import types only.', allowTypeImports: true }],
        },
      ],
      'no-restricted-globals': ['error', ...sandboxGlobals],
      'no-restricted-properties': [
        'error',
        ...['process', 'Buffer', 'setImmediate', 'crypto', 'performance'].map((property) => ({
          object: 'globalThis',
          property,
          message: 'not available or not deterministic in the workflow sandbox.',
        })),
      ],
    },
  },
);
