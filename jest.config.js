/**
 * Unit tests sit beside the code; integration tests need the local stack (npm run stack -- up); fault tests stop,
 * freeze and cut the stack's servers while the services run.
 */
const shared = {
  preset: 'ts-jest',
  testEnvironment: 'node',
  moduleNameMapper: { '^@idsync/([a-z-]+)$': '<rootDir>/libs/$1/src' },
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.jest.json' }] },
};

module.exports = {
  projects: [
    {
      ...shared,
      displayName: 'unit',
      roots: ['<rootDir>/libs', '<rootDir>/services', '<rootDir>/tests/unit'],
      testMatch: ['**/*.spec.ts'],
    },
    {
      ...shared,
      displayName: 'integration',
      roots: ['<rootDir>/tests/integration'],
      testMatch: ['**/*.spec.ts'],
      setupFilesAfterEnv: ['<rootDir>/tests/integration/support/timeout.ts'],
    },
    {
      ...shared,
      displayName: 'faults',
      roots: ['<rootDir>/tests/faults'],
      testMatch: ['**/*.spec.ts'],
      setupFilesAfterEnv: ['<rootDir>/tests/integration/support/timeout.ts'],
    },
  ],
};
