/** @type {import('jest').Config} */
module.exports = {
  // Node's environment, plus a safety net that kills the child process groups a test file left running.
  testEnvironment: "<rootDir>/test/support/jest-environment.js",
  roots: ["<rootDir>/test"],
  testMatch: ["**/*.test.ts"],
  // The fault suite and the Synapse tier run on their own: `npm run test:faults` (jest.faults.config.js),
  // `npm run test:synapse` (jest.synapse.config.js).
  testPathIgnorePatterns: ["/node_modules/", "<rootDir>/test/faults/", "<rootDir>/test/synapse/"],
  // Transpile only: `npm test` typechecks everything once with tsc before jest runs.
  transform: { "^.+\\.ts$": ["ts-jest", { tsconfig: "tsconfig.jest.json", diagnostics: false }] },
  setupFilesAfterEnv: ["<rootDir>/test/support/jest-setup.ts"],
  testTimeout: 30000,
  maxWorkers: 2,
};
