// Plain CommonJS on purpose: a jest.config.ts would need ts-node.
/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  transform: {
    // isolatedModules: ts-jest only transpiles; `npm test` runs tsc first for types.
    '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }],
  },
  testTimeout: 120000,
};
