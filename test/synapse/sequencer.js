// The tier's files in a fixed order, longest first, so the two workers finish together: both modes' scenarios, then
// encryption and Synapse's own rate limits. Files not listed run after these, by name.
const Sequencer = require("@jest/test-sequencer").default;
const path = require("node:path");

const ORDER = ["appservice.test.ts", "client.test.ts", "e2ee-appservice.test.ts", "e2ee.test.ts", "rate-limits.test.ts"];
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
