// jest.backends.config.js: the tests of this run are the backend tier (e2eBackends() in backends.ts reads it).
process.env.MAB_TEST_TIER = "backends";
