// The test environment (jest.config.js): Node's, plus a safety net for child processes. Tests start their children
// in process groups of their own (test/support/child-processes.ts) and register each group here; whatever a test
// file leaves running (a test that timed out never reaches its own cleanup) is killed, group and all, when the
// file ends, and when the worker process exits.
const { TestEnvironment } = require("jest-environment-node");

class ChildReapingEnvironment extends TestEnvironment {
  constructor(config, context) {
    super(config, context);
    this.childGroups = new Set();
    this.global.__mabChildGroups = this.childGroups;
    this.onExit = () => this.reap();
    process.on("exit", this.onExit);
  }

  reap() {
    for (const pgid of this.childGroups) {
      try {
        process.kill(-pgid, "SIGKILL");
      } catch {
        // the group is gone already
      }
    }
    this.childGroups.clear();
  }

  async teardown() {
    this.reap();
    process.off("exit", this.onExit);
    await super.teardown();
  }
}

module.exports = ChildReapingEnvironment;
