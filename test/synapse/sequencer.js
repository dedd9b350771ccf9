// The tier's files in a fixed order, longest first, so the two workers finish together: the rate-limit file starts
// its own Synapse (the second start, SYNAPSE_RATE_LIMITS=default), then both modes' scenarios, then encryption.
// Files not listed run after these, by name.
const Sequencer = require("@jest/test-sequencer").default;
const path = require("node:path");

const ORDER = ["rate-limits.test.ts", "appservice.test.ts", "client.test.ts", "e2ee.test.ts"];
const rank = (test) => {
  const i = ORDER.indexOf(path.basename(test.path));
  return i === -1 ? ORDER.length : i;
};

class FixedOrder extends Sequencer {
  sort(tests) {
    return [...tests].sort((a, b) => rank(a) - rank(b) || a.path.localeCompare(b.path));
  }
}

module.exports = FixedOrder;
