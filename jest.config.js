// Jest runs TypeScript sources directly as native ESM (ts-jest, transpile only; `npm run typecheck` checks types).
const libs = ['core', 'persistence', 'config', 'observability', 'identity', 'definitions', 'testing', 'a2a', 'agents', 'engine', 'events', 'webhooks', 'net', 'conversations'];

/** @type {import('jest').Config} */
export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  roots: ['<rootDir>/apps', '<rootDir>/libs', '<rootDir>/test', '<rootDir>/seeds', '<rootDir>/migrations'],
  testMatch: ['**/*.spec.ts', '**/*.e2e-spec.ts'],
  moduleNameMapper: {
    ...Object.fromEntries(libs.map((l) => [`^#${l}$`, `<rootDir>/libs/${l}/src/index.ts`])),
    '^(\\.{1,2}/.*)\\.js$': '$1',
  },
  transform: {
    '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.json', diagnostics: false }],
  },
  // Global setup runs outside jest's module system, so it is loaded compiled (npm test compiles first).
  globalSetup: '<rootDir>/dist/libs/testing/src/global-setup.js',
  globalTeardown: '<rootDir>/dist/libs/testing/src/global-teardown.js',
  setupFiles: ['<rootDir>/libs/testing/src/setup-env.ts'],
  testTimeout: 60000,
  maxWorkers: 2,
};
