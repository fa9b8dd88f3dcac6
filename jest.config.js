/**
 * Unit tests sit beside the code; integration tests need the local stack (npm run stack -- up); fault tests break
 * things while the services run: their own services (faults) or the stack's shared servers (faults-exclusive).
 * scripts/test.sh runs everything in band: each fault case's services sync all of OU=Corp.
 */
const shared = {
  preset: 'ts-jest',
  testEnvironment: 'node',
  moduleNameMapper: { '^@idsync/([a-z-]+)$': '<rootDir>/libs/$1/src', '^@idsync/detector/(ad|ds|runner)$': '<rootDir>/libs/detector/src/$1' },
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
      // Fault cases that break only what is their own (their services, topics, a proxy).
      ...shared,
      displayName: 'faults',
      roots: ['<rootDir>/tests/faults'],
      testMatch: ['**/*.spec.ts'],
      testPathIgnorePatterns: ['/node_modules/', '/tests/faults/exclusive/'],
      setupFilesAfterEnv: ['<rootDir>/tests/integration/support/timeout.ts'],
    },
    {
      // Fault cases that stop, freeze or kill a shared server (389-ds, Kafka): one at a time, nothing else running.
      ...shared,
      displayName: 'faults-exclusive',
      roots: ['<rootDir>/tests/faults/exclusive'],
      testMatch: ['**/*.spec.ts'],
      setupFilesAfterEnv: ['<rootDir>/tests/integration/support/timeout.ts'],
    },
  ],
};
