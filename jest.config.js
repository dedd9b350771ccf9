// TEST_TIME_SCALE (environment, default 1; e.g. 3 on a slow or busy machine) scales every deadline of the tests:
// the waits of test/support/wait.ts and jest's own test timeout here.
const timeScale = process.env.TEST_TIME_SCALE ? Number(process.env.TEST_TIME_SCALE) : 1;
if (!(timeScale > 0)) throw new Error(`TEST_TIME_SCALE must be a positive number (e.g. 3), not ${JSON.stringify(process.env.TEST_TIME_SCALE)}`);

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
  testTimeout: Math.ceil(60000 * timeScale),
  maxWorkers: 2,
  // A worker is replaced once its heap passes this after a test file (the files that load matrix-js-sdk and the
  // crypto wasm leave hundreds of MB each). Workers then stay small, and one that ends exits within the 500 ms
  // jest gives it even on a busy machine: a worker near 1 GB was slow enough to be killed ("a worker process has
  // failed to exit gracefully").
  workerIdleMemoryLimit: "512MB",
};
