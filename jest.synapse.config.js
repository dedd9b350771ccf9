/** @type {import('jest').Config} */
// The Synapse tier (`npm run test:synapse`): the end-to-end scenarios against a real Synapse 1.67 from
// ../shared/synapse (SYNAPSE_DIR overrides), the built bot as a child process, matrix-js-sdk as the person's client.
// One Synapse per run and a second start with Synapse's own rate limits (both in global setup), two files at a time
// in a fixed order (sequencer.js).
const base = require("./jest.config.js");

module.exports = {
  ...base,
  roots: ["<rootDir>/test/synapse"],
  testPathIgnorePatterns: ["/node_modules/"],
  globalSetup: "<rootDir>/test/synapse/global-setup.ts",
  globalTeardown: "<rootDir>/test/synapse/global-teardown.ts",
  testSequencer: "<rootDir>/test/synapse/sequencer.js",
  reporters: ["default", "<rootDir>/test/synapse/summary-reporter.js"],
  verbose: true,
  testTimeout: 120000,
  maxWorkers: 2,
};
