/** @type {import('jest').Config} */
// The backend tier (`npm run test:backends`): the end-to-end files of the store's backend matrix (those that
// declare their suites with `describeEachE2eBackend`, test/support/backends.ts) run again on PostgreSQL and Redis.
// `npm test` runs them on SQLite, and the store's unit and contract tests on all three.
const fs = require("node:fs");
const path = require("node:path");
const base = require("./jest.config.js");

/** Every test file under `dir` that declares its suites per end-to-end backend. */
function matrixFiles(dir) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const file = path.join(dir, entry.name);
    if (entry.isDirectory()) return matrixFiles(file);
    return entry.name.endsWith(".test.ts") && fs.readFileSync(file, "utf8").includes("describeEachE2eBackend(") ? [file] : [];
  });
}

const files = matrixFiles(path.join(__dirname, "test", "e2e"));
if (files.length === 0) throw new Error("jest.backends.config.js: no test file under test/e2e uses describeEachE2eBackend");

module.exports = {
  ...base,
  roots: ["<rootDir>/test/e2e"],
  testMatch: undefined,
  testRegex: files.map((f) => path.relative(__dirname, f).split(path.sep).join("/").replace(/[.*+?^${}()|[\]\\]/g, "\\$&") + "$"),
  testPathIgnorePatterns: ["/node_modules/"],
  setupFiles: ["<rootDir>/test/support/backends-tier.js"],
};
