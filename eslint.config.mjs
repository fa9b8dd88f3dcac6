// @ts-check
// Type-aware linting of every TypeScript file (libs, services, tests, bench, scripts): ESLint's recommended rules and
// typescript-eslint's strict type-checked set, with the project's own choices below. Formatting is Prettier's
// (eslint-config-prettier turns off the rules it would fight). Types come from the two programs npm run typecheck
// checks: tsconfig.jest.json (libs, services, tests) and tsconfig.node.json (bench/ and scripts/, Node's type
// stripping; needs a build). Two programs instead of one per package (projectService): the same findings for a
// fifth less CPU and 40% less memory; a TypeScript file outside both is an error, not left out.
import eslint from '@eslint/js';
import prettier from 'eslint-config-prettier';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', '**/*.js', '**/*.cjs', '**/*.mjs'] },
  {
    files: ['**/*.ts'],
    extends: [eslint.configs.recommended, tseslint.configs.strictTypeChecked],
    languageOptions: { parserOptions: { project: ['./tsconfig.jest.json', './tsconfig.node.json'], tsconfigRootDir: import.meta.dirname } },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // Type-only imports marked inline, as the code does (import { type X, Y } from ...): Node's type stripping needs them.
      '@typescript-eslint/consistent-type-imports': ['error', { prefer: 'type-imports', fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-unused-vars': ['error', { ignoreRestSiblings: true, argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      // Numbers and booleans in messages and DNs are the common case; objects, null and undefined still need a String().
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true }],
      // `() => void x()` and `(v) => set.add(v)` shorthands are idiomatic; a void value in any other place is reported.
      '@typescript-eslint/no-confusing-void-expression': ['error', { ignoreArrowShorthand: true }],
      // NestJS modules are empty decorated classes.
      '@typescript-eslint/no-extraneous-class': ['error', { allowWithDecorator: true }],
      eqeqeq: ['error', 'smart'],
      // Implementations of Promise-returning interfaces (handlers, test doubles) are async without awaiting: a throw
      // then becomes a rejection, as callers expect.
      '@typescript-eslint/require-await': 'off',
      // Data decoded from Kafka, LDAP and YAML is checked defensively beyond what its declared type admits.
      '@typescript-eslint/no-unnecessary-condition': 'off',
      // With noUncheckedIndexedAccess, `!` marks an element the code has just made sure of (a checker can't see it).
      '@typescript-eslint/no-non-null-assertion': 'off',
      // `return resolve()`, `return done()` in a void callback: a deliberate way to stop there.
      '@typescript-eslint/no-confusing-void-expression': 'off',
      // Dropping a computed key from a plain record (a withheld configuration field, an environment variable) is meant.
      '@typescript-eslint/no-dynamic-delete': 'off',
      // `x === true` where the type says boolean but run time can give undefined (parseArgs values, isTTY).
      '@typescript-eslint/no-unnecessary-boolean-literal-compare': 'off',
    },
  },
  {
    // @types/jest types the asymmetric matchers (expect.any, expect.stringContaining, ...) as any: they go into
    // expected values and toThrow everywhere.
    files: ['**/*.spec.ts', 'tests/**/*.ts'],
    rules: { '@typescript-eslint/no-unsafe-assignment': 'off', '@typescript-eslint/no-unsafe-argument': 'off' },
  },
  {
    // These two walk Kubernetes manifests, Prometheus rules and Grafana dashboards parsed from YAML and JSON (schemaless
    // documents, any): a missing field fails the assertion that reads it.
    files: ['tests/unit/deployment-manifests.spec.ts', 'tests/unit/monitoring.spec.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },
  {
    // The Kafka clients compared with kafkajs are optional packages installed on demand (bench/kafka-clients/) and
    // loaded at run time: no types for the checker.
    files: ['bench/kafka-clients.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },
  prettier,
);
