/** @type {import('jest').Config} */
// The fault suite (`npm run test:faults`): sustained and large-scale faults, each printing its figures as one
// JSON line. Kept out of the default `npm test` (jest.config.js ignores test/faults).
const base = require("./jest.config.js");

module.exports = {
  ...base,
  roots: ["<rootDir>/test/faults"],
  testPathIgnorePatterns: ["/node_modules/"],
  testTimeout: Math.ceil(120000 * (Number(process.env.TEST_TIME_SCALE) > 0 ? Number(process.env.TEST_TIME_SCALE) : 1)),
  maxWorkers: 2,
};
