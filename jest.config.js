/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': ['@swc/jest', { jsc: { parser: { syntax: 'typescript' }, target: 'es2022' } }] },
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  // The real stack is started once for the whole run, on free ports of its own.
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  globalTeardown: '<rootDir>/test/support/global-teardown.ts',
  // Each file's worker, SDK and console logs go to a file; the summary reporter prints a failed file's.
  setupFilesAfterEnv: ['<rootDir>/test/support/capture-logs.ts'],
  testTimeout: 120000,
  reporters: ['default', '<rootDir>/test/support/summary-reporter.js'],
  modulePathIgnorePatterns: ['<rootDir>/.lethe/', '<rootDir>/.tools/', '<rootDir>/dist/'],
};
