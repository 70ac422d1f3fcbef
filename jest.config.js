/**
 * One jest run over every package. Tests import sibling packages from source
 * (`@remora/x` -> packages/x/src), so a test never depends on a stale build;
 * ts-jest only transpiles (isolatedModules); type checking happens once, in
 * `npm run typecheck`.
 * Run with NODE_OPTIONS=--experimental-vm-modules (see `npm run test:unit`):
 * ESM-only dependencies are loaded with dynamic import() from CommonJS.
 */
/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/packages'],
  testMatch: ['**/test/**/*.test.ts'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.test.json' }],
  },
  moduleNameMapper: {
    '^@remora/([a-z-]+)$': '<rootDir>/packages/$1/src/index.ts',
    '^@remora/([a-z-]+)/([a-z-]+)$': '<rootDir>/packages/$1/src/$2.ts',
  },
  testTimeout: 60000,
  // Tests own real processes, sockets and namespaces; two workers on 2 cores.
  maxWorkers: process.env.CI ? 2 : '50%',
};
