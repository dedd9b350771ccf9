// The agent's prompts on Synapse 1.67 in appservice mode (the scenarios: support/prompt-scenarios.ts): the reaction
// and the vote reach the bot in Synapse's transactions. The appservice is the run's third registration
// (`npm run register -- --localpart promptagent`): its own listener and Synapse backoff, beside appservice.test.ts.
import { synapseRun } from "./support/run";
import { describePrompts } from "./support/prompt-scenarios";

describePrompts("appservice", () => ({ appservice: synapseRun().promptAppservice, label: "prompts-appservice" }), "stable");
